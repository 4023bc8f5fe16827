//! Each method against maps written out by hand for tiny models of fixed functions.

use candle_core::{Device, Tensor};
use convlens_explain::{attribute, Baseline, ExplainError, Method, Options};

use crate::fixtures::{CornerOnly, PoolSquares, WeightedSquares};

fn assert_close(got: &[Vec<f32>], expected: &[&[f32]], what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}: rows");
    for (g, e) in got.iter().zip(expected) {
        for (a, b) in g.iter().zip(e.iter()) {
            assert!(
                (a - b).abs() < 1e-5,
                "{what}: got {got:?}, expected {expected:?}"
            );
        }
    }
}

/// A 1×4×4 image, constant on each 2×2 block: pooled to [[1, 3], [0.5, 2]].
fn blocks() -> Tensor {
    let p = [[1f32, 3.], [0.5, 2.]];
    let v: Vec<f32> = (0..16).map(|i| p[i / 8][(i % 4) / 2]).collect();
    Tensor::from_vec(v, (1, 1, 4, 4), &Device::Cpu).unwrap()
}

/// Class 0 = 2ΣP − ΣP²: the gradients are 2 on P and −1 on P², so Grad-CAM's weights are
/// (2, −1) and its map relu(2P − P²) = [[1, 0], [0.75, 0]], upsampled bilinearly
/// (align_corners = false: the 1-D weights from 2 to 4 are v0, ¾v0 + ¼v1, ¼v0 + ¾v1, v1).
#[test]
fn grad_cam_on_a_hand_made_network() {
    let method = Method::GradCam {
        layer: "features".into(),
    };
    let a = attribute(&PoolSquares, &method, &blocks(), &[0], &Options::default()).unwrap();
    let raw = a.raw.unwrap().squeeze(0).unwrap().to_vec2::<f32>().unwrap();
    assert_close(&raw, &[&[1., 0.], &[0.75, 0.]], "raw Grad-CAM");
    let map = a.maps.squeeze(0).unwrap().to_vec2::<f32>().unwrap();
    assert_close(
        &map,
        &[
            &[1., 0.75, 0.25, 0.],
            &[0.9375, 0.703125, 0.234375, 0.],
            &[0.8125, 0.609375, 0.203125, 0.],
            &[0.75, 0.5625, 0.1875, 0.],
        ],
        "upsampled Grad-CAM",
    );
}

/// Grad-CAM++ on the same network: channel P has g = 2 everywhere and ΣP = 6.5, so
/// α = g² / (2g² + ΣP·g³) = 4 / 60 at each of its 4 positions and its weight is
/// 4 · (1/15) · 2 = 8/15; channel P² has g = −1, whose ReLU is 0. The map is (8/15)·P.
#[test]
fn grad_cam_plus_plus_on_a_hand_made_network() {
    let method = Method::GradCamPlusPlus {
        layer: "features".into(),
    };
    let a = attribute(&PoolSquares, &method, &blocks(), &[0], &Options::default()).unwrap();
    let raw = a.raw.unwrap().squeeze(0).unwrap().to_vec2::<f32>().unwrap();
    let k = 8.0 / 15.0;
    assert_close(&raw, &[&[k, 3. * k], &[0.5 * k, 2. * k]], "raw Grad-CAM++");
}

/// A layer whose output is one value per image (no spatial extent) is refused by name, and
/// so is a layer the model does not have.
#[test]
fn a_layer_without_spatial_extent_is_refused() {
    let method = Method::GradCam {
        layer: "scores".into(),
    };
    let err = attribute(&PoolSquares, &method, &blocks(), &[0], &Options::default()).unwrap_err();
    assert!(matches!(err, ExplainError::NoSpatialExtent { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("'scores'") && text.contains("uniform"),
        "{text}"
    );
    let method = Method::GradCam {
        layer: "nowhere".into(),
    };
    let err = attribute(&PoolSquares, &method, &blocks(), &[0], &Options::default()).unwrap_err();
    assert!(matches!(err, ExplainError::UnknownLayer { .. }), "{err}");
    assert!(err.to_string().contains("features, scores"), "{err}");
}

/// f(x) = Σ w x²: along the path from black, ∂f/∂xᵢ = 2wᵢαxᵢ, whose mean over the midpoints
/// αₖ = (k + ½)/steps is wᵢxᵢ exactly, so IG gives wᵢxᵢ² and is complete.
#[test]
fn integrated_gradients_on_a_hand_made_network() {
    let dev = Device::Cpu;
    let model = WeightedSquares {
        w: Tensor::new(&[[[1f32, -1.], [0.5, 2.]]], &dev).unwrap(),
    };
    let x = Tensor::new(&[[[[1f32, 2.], [3., 0.]]]], &dev).unwrap();
    let method = Method::IntegratedGradients {
        steps: 8,
        baseline: Baseline::Black,
    };
    let a = attribute(&model, &method, &x, &[0], &Options::default()).unwrap();
    let map = a.maps.squeeze(0).unwrap().to_vec2::<f32>().unwrap();
    assert_close(&map, &[&[1., -4.], &[4.5, 0.]], "IG from black");
    assert!(a.completeness.unwrap()[0] < 1e-6);
    // The midpoint rule is exact for the quadratic class from any baseline, and for the
    // linear class 1 = Σx too (a blurred baseline is left out there: blurring keeps nearly
    // the whole sum, so the score difference the error is relative to is almost 0).
    for (baseline, class) in [
        (Baseline::UniformNoise, 0),
        (Baseline::Blurred { sigma: 1.0 }, 0),
        (Baseline::UniformNoise, 1),
    ] {
        let method = Method::IntegratedGradients { steps: 3, baseline };
        let a = attribute(&model, &method, &x, &[class], &Options::default()).unwrap();
        assert!(
            a.completeness.unwrap()[0] < 1e-5,
            "{baseline:?}, class {class}"
        );
    }
}

/// The corner model sees only the top-left 2×2 pixels. Occluding a 2×2 patch of an image
/// of ones drops the score by the patch's overlap with the corner; each pixel gets the mean
/// drop of the patches covering it.
#[test]
fn occlusion_on_a_network_that_sees_one_region() {
    let x = Tensor::ones((1, 1, 6, 6), candle_core::DType::F32, &Device::Cpu).unwrap();
    let method = Method::Occlusion {
        patch: 2,
        stride: 1,
        fill: 0.0,
    };
    let a = attribute(&CornerOnly::new(), &method, &x, &[0], &Options::default()).unwrap();
    let map = a.maps.squeeze(0).unwrap().to_vec2::<f32>().unwrap();
    // (0,0): one patch, overlap 4. (0,1): patches at x 0 and 1, overlaps 4 and 2.
    // (1,1): overlaps 4, 2, 2, 1. (0,2): 2 and 0. (2,2): 1, 0, 0, 0.
    for (y, x, v) in [
        (0, 0, 4.0),
        (0, 1, 3.0),
        (1, 0, 3.0),
        (1, 1, 2.25),
        (0, 2, 1.0),
        (2, 2, 0.25),
    ] {
        assert!((map[y][x] - v).abs() < 1e-5, "({y},{x}): {map:?}");
    }
    for (y, row) in map.iter().enumerate() {
        for (x, v) in row.iter().enumerate() {
            if y > 2 || x > 2 {
                assert_eq!(*v, 0.0, "({y},{x}) is out of the corner's reach: {map:?}");
            }
        }
    }
    // Stride 2: disjoint patches, only the corner's own.
    let method = Method::Occlusion {
        patch: 2,
        stride: 2,
        fill: 0.0,
    };
    let a = attribute(&CornerOnly::new(), &method, &x, &[0], &Options::default()).unwrap();
    let map = a.maps.squeeze(0).unwrap().to_vec2::<f32>().unwrap();
    let total: f32 = map.iter().flatten().sum();
    assert_eq!((map[0][0], map[1][1], total), (4.0, 4.0, 16.0));
}

/// With σ = 0 every noisy copy is the image: SmoothGrad is saliency.
#[test]
fn smoothgrad_without_noise_is_saliency() {
    let net = crate::fixtures::Course::new(3, convlens_model::Backend::Fast);
    let x = crate::fixtures::images(3, 1);
    let targets = [1, 4, 7];
    let options = Options::default();
    let saliency = attribute(&net, &Method::Saliency, &x, &targets, &options).unwrap();
    let method = Method::SmoothGrad {
        samples: 5,
        sigma: 0.0,
    };
    let smooth = attribute(&net, &method, &x, &targets, &options).unwrap();
    let d = crate::fixtures::relative_difference(&smooth.maps, &saliency.maps);
    assert!(d < 1e-6, "{d}");
    // and with noise it is not.
    let method = Method::SmoothGrad {
        samples: 5,
        sigma: 0.2,
    };
    let noisy = attribute(&net, &method, &x, &targets, &options).unwrap();
    assert!(crate::fixtures::relative_difference(&noisy.maps, &saliency.maps) > 1e-2);
}

/// Parameters out of range and targets the model does not have are errors naming them.
#[test]
fn bad_parameters_are_named() {
    let x = Tensor::ones((1, 1, 6, 6), candle_core::DType::F32, &Device::Cpu).unwrap();
    let o = Options::default();
    let m = CornerOnly::new();
    let err = attribute(&m, &Method::Saliency, &x, &[2], &o).unwrap_err();
    assert!(err.to_string().contains("target class 2"), "{err}");
    let occl = Method::Occlusion {
        patch: 7,
        stride: 1,
        fill: 0.0,
    };
    let err = attribute(&m, &occl, &x, &[0], &o).unwrap_err();
    assert!(err.to_string().starts_with("patch = 7"), "{err}");
    let sg = Method::SmoothGrad {
        samples: 0,
        sigma: 0.1,
    };
    let err = attribute(&m, &sg, &x, &[0], &o).unwrap_err();
    assert!(err.to_string().starts_with("samples = 0"), "{err}");
}
