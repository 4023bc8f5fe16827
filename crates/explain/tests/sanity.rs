//! The cascading-randomization check and the faithfulness curves.

use candle_core::{Device, Tensor};
use convlens_explain::{
    attribute, cascading_randomization, deletion_insertion, evaluate_method, fails_sanity,
    random_orders, ranking, Evaluation, FaithfulnessConfig, Method, Options,
};
use convlens_model::Backend;

use crate::fixtures::{images, CornerOnly, Course};

/// An edge detector ignores the model: its maps survive every re-initialization unchanged,
/// and the check flags it. Saliency follows the weights and passes.
#[test]
fn sanity_check_flags_a_method_that_ignores_the_model() {
    let net = Course::new(7, Backend::Fast);
    let x = images(4, 3);
    let targets = [1, 2, 3, 4];
    let edges = |_: &Course, x: &Tensor, _: &[usize]| {
        let dx = (x.narrow(3, 1, 27)? - x.narrow(3, 0, 27)?)?.abs()?;
        Ok(dx.pad_with_zeros(3, 0, 1)?.squeeze(1)?)
    };
    let steps = cascading_randomization(&net, &x, &targets, 1, edges).unwrap();
    assert_eq!(steps.len(), 5);
    assert_eq!(steps[0].randomized, ["fc2"]);
    assert_eq!(
        steps[4].randomized,
        ["fc2", "fc1", "conv3", "conv2", "conv1"]
    );
    assert!(steps.iter().all(|s| s.rank_correlation == 1.0), "{steps:?}");
    assert!(fails_sanity(&steps));

    let options = Options::default();
    let saliency = |m: &Course, x: &Tensor, t: &[usize]| {
        Ok(attribute(m, &Method::Saliency, x, t, &options)?.maps)
    };
    let steps = cascading_randomization(&net, &x, &targets, 1, saliency).unwrap();
    assert!(!fails_sanity(&steps), "{steps:?}");
    assert!(
        steps[4].rank_correlation < steps[0].rank_correlation,
        "{steps:?}"
    );
}

/// Deletion in the order of the true evidence drops the corner model's score at once;
/// in reverse order it keeps the score until the very end. Insertion mirrors it.
#[test]
fn deletion_and_insertion_follow_the_evidence() {
    let model = CornerOnly::new();
    let x = Tensor::ones((1, 1, 6, 6), candle_core::DType::F32, &Device::Cpu).unwrap();
    let mut corner_first: Vec<u32> = vec![0, 1, 6, 7];
    corner_first.extend((0..36).filter(|p| ![0, 1, 6, 7].contains(p)));
    let corner_last: Vec<u32> = corner_first.iter().rev().copied().collect();
    let config = FaithfulnessConfig {
        steps: 9,
        fill: 0.0,
    };
    let good = deletion_insertion(&model, &x, &[0], &[corner_first], &config, 64).unwrap();
    let bad = deletion_insertion(&model, &x, &[0], &[corner_last], &config, 64).unwrap();
    // Two classes, score 4 vs 0: p = 1/(1+e^-4) with the corner, 0.5 without.
    let full = 1.0 / (1.0 + (-4f64).exp());
    assert!((good.deletion[0][0] - full).abs() < 1e-6);
    assert!(
        (good.deletion[0][1] - 0.5).abs() < 1e-6,
        "{:?}",
        good.deletion
    );
    assert!(
        (bad.deletion[0][8] - full).abs() < 1e-6,
        "{:?}",
        bad.deletion
    );
    assert!(
        (good.insertion[0][1] - full).abs() < 1e-6,
        "{:?}",
        good.insertion
    );
    assert!(
        (bad.insertion[0][8] - 0.5).abs() < 1e-6,
        "{:?}",
        bad.insertion
    );
}

/// The whole evaluation of a method is a function of its inputs and seed.
#[test]
fn evaluation_is_deterministic() {
    let net = Course::new(2, Backend::Fast);
    let x = images(6, 5);
    let targets = [0, 1, 2, 3, 4, 5];
    let orders = random_orders(6, 784, 9);
    let evaluation = Evaluation {
        options: Options::default(),
        faithfulness: FaithfulnessConfig::default(),
        sanity_images: 3,
    };
    let method = Method::SmoothGrad {
        samples: 3,
        sigma: 0.1,
    };
    let (a, _) = evaluate_method(&net, &method, &x, &targets, &orders, &evaluation).unwrap();
    let (b, maps) = evaluate_method(&net, &method, &x, &targets, &orders, &evaluation).unwrap();
    assert_eq!((a.seconds > 0.0, b.seconds > 0.0), (true, true));
    assert_eq!((&a.sanity, &a.faithfulness), (&b.sanity, &b.faithfulness));
    assert_eq!(a.sanity.steps.len(), 5);
    assert_eq!(a.faithfulness.deletion_curve.len(), 29);
    assert_eq!(maps.maps.dims(), [6, 28, 28]);
    // A method's ordering of its own map puts its largest value first.
    let m = maps
        .maps
        .get(0)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let top = ranking(&m, &orders[0])[0] as usize;
    assert_eq!(m[top], m.iter().fold(f32::MIN, |a, &b| a.max(b)));
}
