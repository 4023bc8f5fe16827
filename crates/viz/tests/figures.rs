//! Each figure writes a valid PNG and SVG of the same size, with the labels it promises.

use std::path::Path;

use candle_core::{Device, Tensor};
use convlens_viz::*;

use crate::fixtures::*;

/// Draws `name` as PNG and SVG, checks both files and that their sizes agree.
fn both(dir: &Path, name: &str, draw: impl Fn(&Path) -> Result<(), VizError>) -> (Png, String) {
    let png_path = dir.join(format!("{name}.png"));
    let svg_path = dir.join(format!("{name}.svg"));
    draw(&png_path).unwrap_or_else(|e| panic!("{name}.png: {e}"));
    draw(&svg_path).unwrap_or_else(|e| panic!("{name}.svg: {e}"));
    let png = read_png(&png_path);
    let svg = read_svg(&svg_path);
    assert_eq!(
        (png.width, png.height),
        svg_size(&svg),
        "{name}: PNG and SVG sizes differ"
    );
    assert!(
        png.width >= 200 && png.height >= 100,
        "{name}: {}x{}",
        png.width,
        png.height
    );
    // Some ink on the page, not a blank canvas.
    let white = png.count([255, 255, 255]);
    assert!(white < (png.width * png.height) as usize, "{name}: blank");
    (png, svg)
}

fn assert_labels(svg: &str, labels: &[&str]) {
    for label in labels {
        assert!(svg.contains(&xml(label)), "SVG lacks label {label:?}");
    }
}

/// A `<text>` element whose whole content is `label` (the SVG backend puts
/// the content on a line of its own).
fn has_text(svg: &str, label: &str) -> bool {
    svg.contains(&format!(">\n{}\n</text>", xml(label)))
}

#[test]
fn architecture_names_every_layer_with_shape_and_parameters() {
    let dir = tempdir();
    let blocks = lenet_blocks();
    let (_, svg) = both(dir.path(), "architecture", |p| {
        draw_architecture(&blocks, &[1, 28, 28], "Course LeNet", p)
    });
    for block in &blocks {
        assert!(has_text(&svg, &block.name), "missing block {}", block.name);
    }
    assert_labels(
        &svg,
        &[
            "Course LeNet",
            "1×28×28",
            "3×32×32",
            "110×1×1",
            "63,470 params · 88%",
            "Total: 71,986 trainable parameters",
            "convolution",
            "max pooling",
            "fully connected",
        ],
    );
}

#[test]
fn samples_show_every_image_enlarged_with_its_caption() {
    let dir = tempdir();
    let images = Tensor::zeros((3, 1, 28, 28), candle_core::DType::F32, &Device::Cpu).unwrap();
    let captions: Vec<String> = ["Sandal", "Bag", "Ankle boot"].map(String::from).to_vec();
    let (png, svg) = both(dir.path(), "samples", |p| {
        draw_samples(&images, &captions, 2, "Training samples", p)
    });
    // Three black images enlarged 3× (84×84 pixels each).
    assert!(
        png.count([0, 0, 0]) >= 3 * 84 * 84,
        "black pixels {}",
        png.count([0, 0, 0])
    );
    assert_labels(&svg, &["Training samples", "Sandal", "Bag", "Ankle boot"]);
    assert_eq!(svg.matches("data:image/png;base64,").count(), 3);
}

#[test]
fn samples_draw_rgb_images_in_colour() {
    let dir = tempdir();
    let mut v = vec![0f32; 3 * 28 * 28];
    v[..28 * 28].iter_mut().for_each(|x| *x = 1.0); // red channel full
    let images = Tensor::from_vec(v, (1, 3, 28, 28), &Device::Cpu).unwrap();
    let path = dir.path().join("rgb.png");
    draw_samples(&images, &["red".to_string()], 1, "RGB", &path).unwrap();
    assert!(read_png(&path).count([255, 0, 0]) >= 84 * 84);
}

#[test]
fn curves_have_both_panels_legend_and_best_epoch() {
    let dir = tempdir();
    let history = history(12);
    let (png, svg) = both(dir.path(), "curves", |p| {
        draw_curves(&history, "MNIST training", p)
    });
    assert_labels(
        &svg,
        &[
            "MNIST training",
            "Loss per epoch",
            "Accuracy per epoch",
            "cross-entropy loss (log scale)",
            "accuracy (%)",
            "epoch",
            "train",
            "validation",
            "best val accuracy 97.2% at epoch 12",
        ],
    );
    // Both series colours are drawn.
    assert!(png.count([31, 119, 180]) > 50);
    assert!(png.count([230, 115, 0]) > 50);
}

#[test]
fn curves_accept_a_single_epoch() {
    let dir = tempdir();
    let path = dir.path().join("one.png");
    draw_curves(&history(1), "one epoch", &path).unwrap();
    read_png(&path);
}

#[test]
fn small_filters_are_drawn_in_full_on_a_zero_centred_scale() {
    let dir = tempdir();
    // conv1-like weights whose extremes are +0.8 and -0.4: +0.8 reaches the red end,
    // -0.4 sits halfway to blue, and the scale is symmetric.
    let mut v: Vec<f32> = (0..27).map(|i| ((i as f32) * 0.3).sin() * 0.3).collect();
    v[4] = 0.8;
    v[13] = -0.4;
    let weight = Tensor::from_vec(v, (3, 1, 3, 3), &Device::Cpu).unwrap();
    let (png, svg) = both(dir.path(), "conv1", |p| {
        draw_filters("conv1", &weight, 16, p)
    });
    assert_labels(
        &svg,
        &["conv1 filters (3×1 kernels of 3×3)", "all 3 filters"],
    );
    for label in ["f0", "f1", "f2", "in 0", "0.80", "-0.40", "0.8", "-0.8"] {
        assert!(has_text(&svg, label), "missing {label}");
    }
    assert!(!svg.contains("Overview"));
    // The +max cell (32×32 pixels, minus its printed value) is the red end of the scale.
    assert!(png.count(ColourScale::DIVERGING_HIGH) > 32 * 32 / 2);
    let half_blue = ColourScale::diverging(0.8).rgb(-0.4);
    assert!(png.count(half_blue) > 32 * 32 / 2);
}

#[test]
fn wide_layers_show_the_strongest_filters_and_a_norm_overview() {
    let dir = tempdir();
    let (o, c, k) = (110, 16, 6);
    let mut v: Vec<f32> = (0..o * c * k * k)
        .map(|i| (i as f32 * 0.11).sin() * 0.01)
        .collect();
    let per_filter = c * k * k;
    for (filter, gain) in [(37usize, 1.0f32), (5, 0.5)] {
        for x in &mut v[filter * per_filter..(filter + 1) * per_filter] {
            *x *= 100.0 * gain;
        }
    }
    let weight = Tensor::from_vec(v, (o, c, k, k), &Device::Cpu).unwrap();
    let (_, svg) = both(dir.path(), "conv3", |p| {
        draw_filters("conv3", &weight, 2, p)
    });
    assert_labels(
        &svg,
        &[
            "conv3 filters (110×16 kernels of 6×6)",
            "the 2 strongest of 110 filters by L2 norm",
            "Overview: L2 norm of every 6×6 kernel",
            "output filter",
        ],
    );
    assert!(has_text(&svg, "f37") && has_text(&svg, "f5"));
    assert!(!has_text(&svg, "f0") && !has_text(&svg, "f36"));
    // Strongest first.
    assert!(svg.find("\nf37\n").unwrap() < svg.find("\nf5\n").unwrap());
    assert!(has_text(&svg, "in 15"));
}

#[test]
fn feature_maps_label_layers_channels_and_images_with_a_scale_per_layer() {
    let dir = tempdir();
    let layers = feature_layers(2);
    let captions = captions(2);
    let (png, svg) = both(dir.path(), "maps", |p| {
        draw_feature_maps(&layers, &captions, "Feature maps", p)
    });
    for (name, _) in &layers {
        assert!(has_text(&svg, name), "missing layer {name}");
    }
    for label in [
        "conv1 ch 0 · 32×32",
        "conv1 ch 2 · 32×32",
        "conv2 ch 15 · 12×12",
        "maxp2 ch 7 · 6×6",
        "conv3 · 110 ch · 1×1",
        "relu3 · 110 ch · 1×1",
        "true T-shirt/top",
        "pred Trouser",
    ] {
        assert!(has_text(&svg, label), "missing {label}");
    }
    // conv3 is one tile per image, not 110 rows.
    assert!(!svg.contains("conv3 ch 1 "));
    // Signed layers use the diverging scale, non-negative ones viridis; every
    // layer's own maximum reaches the end of its scale.
    let viridis_top = ColourScale::sequential(0.0, 1.0, Palette::Viridis).rgb(1.0);
    assert!(png.count(viridis_top) > 0);
    assert!(png.count(ColourScale::DIVERGING_HIGH) + png.count(ColourScale::DIVERGING_LOW) > 0);
    // One tile per (layer row, image): 3+3+3+16+16+16+1+1 rows × 2 images.
    assert_eq!(svg.matches("data:image/png;base64,").count() - 8, 59 * 2);
}

#[test]
fn classifier_strips_print_probabilities_and_predictions() {
    let dir = tempdir();
    let layers = dense_layers(3);
    let probs = probabilities(3);
    let captions: Vec<String> = (0..3).map(|i| format!("true {}", FASHION[i])).collect();
    let names = class_names();
    let (_, svg) = both(dir.path(), "classifier", |p| {
        draw_classifier(&layers, &probs, &captions, &names, "Classifier", p)
    });
    for label in [
        "flatten · 110",
        "fc1 · 60",
        "relu4 · 60",
        "fc2 · 10",
        "softmax · 10",
        "pred: T-shirt/top",
        "pred: Trouser",
        "pred: Pullover",
        "p = 82.0%",
        "82%",
        "2%",
        "true Pullover",
        "Ankle boot",
    ] {
        assert!(has_text(&svg, label), "missing {label}");
    }
    // The ten logits of each image are printed with two decimals.
    let logits = layers[3].1.to_vec2::<f32>().unwrap();
    assert!(has_text(&svg, &format!("{:.2}", logits[1][4])));
}

#[test]
fn confusion_prints_counts_and_normalises_colour_per_true_class() {
    let dir = tempdir();
    let counts = confusion();
    let names = class_names();
    let (_, svg) = both(dir.path(), "confusion", |p| {
        draw_confusion(&counts, &names, "Confusion", p)
    });
    for label in [
        "predicted class",
        "true class",
        "900",
        "909",
        "accuracy",
        "Ankle boot",
    ] {
        assert!(has_text(&svg, label), "missing {label}");
    }
    let total: u64 = counts.iter().flatten().sum();
    let correct: u64 = (0..10).map(|i| counts[i][i]).sum();
    let accuracy = format!("{:.1}%", correct as f64 / total as f64 * 100.0);
    assert!(svg.contains(&accuracy), "overall accuracy {accuracy}");

    // A rare class with all its 10 images right is as dark as a common one.
    let names: Vec<String> = ["rare", "common"].map(String::from).to_vec();
    let dark = ColourScale::sequential(0.0, 1.0, Palette::Blues).rgb(1.0);
    let dark_pixels = |counts: &[Vec<u64>], file: &str| {
        let path = dir.path().join(file);
        draw_confusion(counts, &names, "two classes", &path).unwrap();
        read_png(&path).count(dark)
    };
    let both_perfect = dark_pixels(&[vec![10, 0], vec![0, 1000]], "a.png");
    let rare_half = dark_pixels(&[vec![10, 10], vec![0, 1000]], "b.png");
    assert!(rare_half > 1000, "{rare_half}");
    assert!(
        both_perfect as f64 > 1.8 * rare_half as f64,
        "{both_perfect} vs {rare_half}"
    );
}

#[test]
fn misclassified_images_carry_truth_prediction_and_confidence() {
    let dir = tempdir();
    let items = misclassified(4);
    let images = images(4);
    let names = class_names();
    let (_, svg) = both(dir.path(), "wrong", |p| {
        draw_misclassified(&images, &items, &names, 2, "Misclassified", p)
    });
    for label in [
        "true: T-shirt/top",
        "pred: Dress",
        "true: Pullover",
        "pred: Shirt",
        "60.0% confident",
    ] {
        assert!(has_text(&svg, label), "missing {label}");
    }
}

#[test]
fn activation_stats_have_a_panel_per_statistic_and_per_channel_panels() {
    let dir = tempdir();
    let stats = stats();
    let (_, svg) = both(dir.path(), "stats", |p| {
        draw_activation_stats(&stats, "Statistics", p)
    });
    for label in [
        "Exact zeros",
        "Mean activation",
        "Dead channels",
        "Per-channel mean ± standard deviation",
        "conv1 · 3 channels",
        "relu2 · 16 channels",
        "40.0%",
        "12.5%",
        "0.3",
        "-0.05",
        "fc1",
    ] {
        assert!(has_text(&svg, label), "missing {label}");
    }
    // fc1 has no channel numbers, so no panel.
    assert!(!svg.contains("fc1 · "));
}

#[test]
fn saliency_shows_input_map_and_overlay() {
    let dir = tempdir();
    let images = images(3);
    let saliency = wave(&[3, 1, 28, 28], 1.0, 0.0);
    let captions = captions(3);
    let (png, svg) = both(dir.path(), "saliency", |p| {
        draw_saliency(&images, &saliency, &captions, "Saliency", p)
    });
    for label in ["input", "saliency", "overlay", "true Trouser"] {
        assert!(has_text(&svg, label), "missing {label}");
    }
    // Each map reaches the top of its own scale.
    let top = ColourScale::sequential(0.0, 1.0, Palette::Viridis).rgb(1.0);
    assert!(png.count(top) >= 3 * 9);
}

#[test]
fn feature_map_channels_share_their_layer_scale() {
    let dir = tempdir();
    // Channel 0 is 1.0 everywhere, channel 1 is 0.5: on a shared scale only
    // channel 0 reaches the top colour; channel 1 sits in the middle.
    let mut v = vec![1.0f32; 36];
    v.extend(vec![0.5f32; 36]);
    let layer = Tensor::from_vec(v, (1, 2, 6, 6), &Device::Cpu).unwrap();
    let path = dir.path().join("shared.png");
    draw_feature_maps(
        &[("relu".to_string(), layer)],
        &["x".to_string()],
        "shared",
        &path,
    )
    .unwrap();
    let png = read_png(&path);
    let scale = ColourScale::sequential(0.0, 1.0, Palette::Viridis);
    let tile = 60 * 60; // 6×6 maps enlarged 10×
    let top = png.count(scale.rgb(1.0));
    assert!((tile..tile + 100).contains(&top), "top colour pixels {top}");
    assert!(png.count(scale.rgb(0.5)) >= tile);
}

#[test]
fn attributions_show_each_method_over_each_image() {
    let dir = tempdir();
    let images = images(3);
    let columns: Vec<AttributionColumn> = ["Saliency", "Grad-CAM", "Integrated Gradients"]
        .iter()
        .enumerate()
        .map(|(k, t)| AttributionColumn {
            title: t.to_string(),
            maps: wave(&[3, 28, 28], 1.0 + k as f32, 0.0),
        })
        .collect();
    let captions = captions(3);
    let (png, svg) = both(dir.path(), "attributions", |p| {
        draw_attributions(&images, &columns, &captions, "Attributions", p)
    });
    for label in [
        "input",
        "Saliency",
        "Grad-CAM",
        "true Trouser",
        "pred Pullover",
    ] {
        assert!(has_text(&svg, label), "missing {label}");
    }
    // Every map reaches its own largest magnitude: pure yellow where positive.
    assert!(
        png.count([255, 255, 0]) >= 3 * 3 * 9,
        "{}",
        png.count([255, 255, 0])
    );
    // A map of the wrong size is refused by name.
    let wrong = [AttributionColumn {
        title: "Occlusion".into(),
        maps: wave(&[3, 12, 12], 1.0, 0.0),
    }];
    let err = draw_attributions(&images, &wrong, &captions, "x", &dir.path().join("w.png"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Occlusion") && err.contains("[3, 28, 28]"),
        "{err}"
    );
}

#[test]
fn faithfulness_draws_every_series_and_the_random_baseline() {
    let dir = tempdir();
    let series = |name: &str, k: f64| FaithfulnessSeries {
        name: name.into(),
        deletion: (0..=10)
            .map(|i| (1.0 - k * i as f64 / 10.0).max(0.0))
            .collect(),
        insertion: (0..=10).map(|i| (k * i as f64 / 10.0).min(1.0)).collect(),
        deletion_auc: 0.1 * k,
        insertion_auc: 0.9 * k,
    };
    let methods = [series("Grad-CAM", 2.0), series("Saliency", 1.5)];
    let random = series("random", 1.0);
    let (_, svg) = both(dir.path(), "faithfulness", |p| {
        draw_faithfulness(&methods, &random, 1000, "Faithfulness", p)
    });
    for label in [
        "Deletion (lower is more faithful)",
        "Insertion (higher is more faithful)",
        "Grad-CAM (0.200)",
        "random (0.100)",
    ] {
        assert!(has_text(&svg, label), "missing {label}");
    }
    assert!(svg.contains("over 1000 test images"));
    let mut short = random.clone();
    short.insertion.pop();
    let err = draw_faithfulness(&methods, &short, 1, "x", &dir.path().join("s.png"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("series random"), "{err}");
}
