//! The methods on the course network: Integrated Gradients' completeness, and the fast
//! backend's maps against candle's.

use convlens_explain::{attribute, Baseline, Method, Options, METHOD_NAMES};
use convlens_model::Backend;

use crate::fixtures::{images, relative_difference, Course};

/// Σ IG = score(x) − score(baseline) up to the path integral's discretization, which
/// shrinks as the steps grow.
#[test]
fn integrated_gradients_is_complete_on_the_course_network() {
    let net = Course::new(5, Backend::Fast);
    let x = images(4, 2);
    let targets = [0, 3, 5, 9];
    let error = |steps: usize| {
        let method = Method::IntegratedGradients {
            steps,
            baseline: Baseline::Black,
        };
        let a = attribute(&net, &method, &x, &targets, &Options::default()).unwrap();
        let e = a.completeness.unwrap();
        e.iter().sum::<f64>() / e.len() as f64
    };
    let (coarse, fine) = (error(4), error(128));
    assert!(fine < 0.01, "completeness error {fine} with 128 steps");
    assert!(fine < coarse, "{fine} (128 steps) vs {coarse} (4 steps)");
}

/// Every method gives the same maps on `Backend::Fast` (convlens-ops kernels, fused plain
/// pass) as on `Backend::Candle` (candle's conv2d and matmul), to a relative 1e-4.
#[test]
fn fast_backend_attributions_equal_candle_backend() {
    let fast = Course::new(11, Backend::Fast);
    let candle = Course::new(11, Backend::Candle);
    let x = images(3, 4);
    let targets = [2, 6, 8];
    let options = Options {
        max_batch: 64,
        ..Options::default()
    };
    for name in METHOD_NAMES {
        let method = Method::from_name(name, "relu2", (0.0, 1.0)).unwrap();
        let method = match method {
            Method::SmoothGrad { sigma, .. } => Method::SmoothGrad { samples: 4, sigma },
            Method::IntegratedGradients { baseline, .. } => {
                Method::IntegratedGradients { steps: 8, baseline }
            }
            m => m,
        };
        let a = attribute(&fast, &method, &x, &targets, &options).unwrap();
        let b = attribute(&candle, &method, &x, &targets, &options).unwrap();
        let d = relative_difference(&a.maps, &b.maps);
        assert!(d < 1e-4, "{name}: relative difference {d}");
        if let (Some(ra), Some(rb)) = (&a.raw, &b.raw) {
            assert_eq!(ra.dims(), [3, 12, 12], "{name}");
            assert!(relative_difference(ra, rb) < 1e-4, "{name} raw");
        }
    }
}

/// conv3 and relu3 are 1×1 on 28×28 inputs: a CAM there is uniform, and is refused.
#[test]
fn course_layers_without_spatial_extent_are_refused() {
    let net = Course::new(1, Backend::Fast);
    let x = images(1, 1);
    for layer in ["conv3", "relu3", "fc1"] {
        let method = Method::GradCam {
            layer: layer.into(),
        };
        let err = attribute(&net, &method, &x, &[0], &Options::default()).unwrap_err();
        assert!(
            err.to_string().contains("no spatial extent"),
            "{layer}: {err}"
        );
    }
    let err = attribute(
        &net,
        &Method::GradCam {
            layer: "relu2".into(),
        },
        &x,
        &[0],
        &Options::default(),
    );
    assert_eq!(err.unwrap().maps.dims(), [1, 28, 28]);
}
