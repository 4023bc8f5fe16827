//! Bad input gives an error that names what is wrong, and leaves no file behind.

use candle_core::{Device, Tensor};
use convlens_viz::*;

use crate::fixtures::*;

/// Runs `draw` into a fresh directory and checks the message and the empty directory.
fn fails(expected: &[&str], draw: impl FnOnce(&std::path::Path) -> Result<(), VizError>) {
    let dir = tempdir();
    let path = dir.path().join("figure.png");
    let err = draw(&path).expect_err("bad input must be rejected");
    let message = err.to_string();
    for part in expected {
        assert!(
            message.contains(part),
            "{message:?} does not mention {part:?}"
        );
    }
    assert!(
        entries(dir.path()).is_empty(),
        "left files: {:?}",
        entries(dir.path())
    );
}

fn strings(n: usize) -> Vec<String> {
    (0..n).map(|i| i.to_string()).collect()
}

#[test]
fn architecture_rejects_empty_and_degenerate_layers() {
    fails(&["layers is empty"], |p| {
        draw_architecture(&[], &[1, 28, 28], "t", p)
    });
    fails(&["input_shape"], |p| {
        draw_architecture(&lenet_blocks(), &[], "t", p)
    });
    let bad = vec![LayerBlock::new("conv9", &[3, 0, 4], 1)];
    fails(&["conv9", "[3, 0, 4]"], |p| {
        draw_architecture(&bad, &[1, 28, 28], "t", p)
    });
    let unnamed = vec![LayerBlock::new(" ", &[3], 1)];
    fails(&["layer 0 has an empty name"], |p| {
        draw_architecture(&unnamed, &[1], "t", p)
    });
}

#[test]
fn samples_reject_wrong_rank_channels_lengths_and_values() {
    let rank3 = wave(&[3, 28, 28], 0.5, 0.5);
    fails(
        &["sample image tensor has shape [3, 28, 28], expected 4-D [N, C, H, W]"],
        |p| draw_samples(&rank3, &strings(3), 3, "t", p),
    );
    let two_channels = wave(&[2, 2, 28, 28], 0.5, 0.5);
    fails(&["[2, 2, 28, 28]", "C = 1 (grey) or C = 3 (RGB)"], |p| {
        draw_samples(&two_channels, &strings(2), 3, "t", p)
    });
    fails(&["captions has 2 entries", "has 3"], |p| {
        draw_samples(&images(3), &strings(2), 3, "t", p)
    });
    fails(&["columns is 0"], |p| {
        draw_samples(&images(3), &strings(3), 0, "t", p)
    });
    let empty = Tensor::zeros((0, 1, 28, 28), candle_core::DType::F32, &Device::Cpu).unwrap();
    fails(&["[0, 1, 28, 28]"], |p| {
        draw_samples(&empty, &[], 3, "t", p)
    });
    let mut v = vec![0.5f32; 784];
    v[10] = f32::NAN;
    let nan = Tensor::from_vec(v, (1, 1, 28, 28), &Device::Cpu).unwrap();
    fails(&["sample image tensor", "non-finite", "index 10"], |p| {
        draw_samples(&nan, &strings(1), 1, "t", p)
    });
}

#[test]
fn curves_reject_empty_unordered_and_out_of_range_history() {
    fails(&["history is empty"], |p| draw_curves(&[], "t", p));
    let mut h = history(3);
    h[2].epoch = 1;
    fails(&["entry 2 has epoch 1 after epoch 2"], |p| {
        draw_curves(&h, "t", p)
    });
    let mut h = history(3);
    h[1].val_loss = 0.0;
    fails(&["val_loss at epoch 2 is 0", "positive"], |p| {
        draw_curves(&h, "t", p)
    });
    let mut h = history(3);
    h[0].train_accuracy = 98.5;
    fails(&["train_accuracy at epoch 1 is 98.5", "[0, 1]"], |p| {
        draw_curves(&h, "t", p)
    });
    let mut h = history(3);
    h[0].train_loss = f64::NAN;
    fails(&["train_loss at epoch 1 is NaN"], |p| {
        draw_curves(&h, "t", p)
    });
}

#[test]
fn filters_reject_wrong_rank_and_zero_max_filters() {
    let flat = wave(&[3, 9], 1.0, 0.0);
    fails(
        &["weight tensor for layer conv1 has shape [3, 9], expected 4-D [out_channels, in_channels, K, K]"],
        |p| draw_filters("conv1", &flat, 16, p),
    );
    let w = wave(&[3, 1, 3, 3], 1.0, 0.0);
    fails(&["max_filters is 0 for layer conv1"], |p| {
        draw_filters("conv1", &w, 0, p)
    });
}

#[test]
fn feature_maps_reject_wrong_rank_mismatched_images_and_captions() {
    let layers = vec![("conv2".to_string(), wave(&[3, 4], 1.0, 0.0))];
    fails(
        &["feature map tensor for layer conv2 has shape [3, 4], expected 4-D [N, C, H, W]"],
        |p| draw_feature_maps(&layers, &strings(3), "t", p),
    );
    let layers = vec![
        ("conv1".to_string(), wave(&[2, 3, 32, 32], 1.0, 0.0)),
        ("relu1".to_string(), wave(&[3, 3, 32, 32], 1.0, 1.0)),
    ];
    fails(&["layer relu1 has 3 images, but layer conv1 has 2"], |p| {
        draw_feature_maps(&layers, &strings(2), "t", p)
    });
    fails(&["column_captions has 1 entries", "has 2"], |p| {
        draw_feature_maps(&feature_layers(2), &strings(1), "t", p)
    });
    fails(&["layers is empty"], |p| {
        draw_feature_maps(&[], &[], "t", p)
    });
}

#[test]
fn classifier_rejects_inconsistent_inputs() {
    let names = class_names();
    let dense = dense_layers(2);
    let probs = probabilities(2);
    let caps = strings(2);
    let flat = wave(&[20], 0.5, 0.5);
    fails(
        &["probability tensor has shape [20], expected 2-D [N, classes]"],
        |p| draw_classifier(&dense, &flat, &caps, &names, "t", p),
    );
    fails(
        &["class_names has 9 entries but the probability tensor (classes) has 10"],
        |p| draw_classifier(&dense, &probs, &caps, &names[..9], "t", p),
    );
    fails(&["captions has 3 entries"], |p| {
        draw_classifier(&dense, &probs, &strings(3), &names, "t", p)
    });
    let other = vec![("fc1".to_string(), wave(&[3, 60], 1.0, 0.0))];
    fails(
        &["layer fc1 has 3 images, but the probability tensor has 2"],
        |p| draw_classifier(&other, &probs, &caps, &names, "t", p),
    );
    let rank3 = vec![("fc1".to_string(), wave(&[2, 60, 1], 1.0, 0.0))];
    fails(
        &["activation tensor for layer fc1 has shape [2, 60, 1]"],
        |p| draw_classifier(&rank3, &probs, &caps, &names, "t", p),
    );
    let logits = wave(&[2, 10], 3.0, 0.0);
    fails(&["expected probabilities in [0, 1]"], |p| {
        draw_classifier(&dense, &logits, &caps, &names, "t", p)
    });
}

#[test]
fn confusion_rejects_non_square_and_mismatched_names() {
    let names = class_names();
    fails(&["confusion counts is empty"], |p| {
        draw_confusion(&[], &[], "t", p)
    });
    let mut counts = confusion();
    counts[4].pop();
    fails(&["row 4 (Coat) has 9 entries, expected 10"], |p| {
        draw_confusion(&counts, &names, "t", p)
    });
    fails(
        &["class_names has 9 entries but the confusion counts (rows) has 10"],
        |p| draw_confusion(&confusion(), &names[..9], "t", p),
    );
}

#[test]
fn misclassified_rejects_bad_items() {
    let names = class_names();
    let imgs = images(2);
    fails(&["misclassified items is empty"], |p| {
        draw_misclassified(&imgs, &[], &names, 2, "t", p)
    });
    let mut items = misclassified(2);
    items[1].predicted = 10;
    fails(
        &["item 1 has predicted 10, but there are only 10 class names"],
        |p| draw_misclassified(&imgs, &items, &names, 2, "t", p),
    );
    let mut items = misclassified(2);
    items[0].confidence = 1.5;
    fails(&["item 0 has confidence 1.5"], |p| {
        draw_misclassified(&imgs, &items, &names, 2, "t", p)
    });
    fails(
        &["items has 3 entries but the misclassified image tensor (N) has 2"],
        |p| draw_misclassified(&imgs, &misclassified(3), &names, 2, "t", p),
    );
}

#[test]
fn activation_stats_reject_out_of_range_and_mismatched_channels() {
    fails(&["layer statistics is empty"], |p| {
        draw_activation_stats(&[], "t", p)
    });
    let mut s = stats();
    s[1].zero_fraction = 1.2;
    fails(&["zero_fraction of layer relu1 is 1.2"], |p| {
        draw_activation_stats(&s, "t", p)
    });
    let mut s = stats();
    s[3].channel_stds.pop();
    fails(
        &["layer relu2 has 16 channel_means but 15 channel_stds"],
        |p| draw_activation_stats(&s, "t", p),
    );
    let mut s = stats();
    s[0].channel_stds[2] = -0.1;
    fails(
        &["channel_stds of layer conv1 has -0.1 at channel 2"],
        |p| draw_activation_stats(&s, "t", p),
    );
}

#[test]
fn saliency_must_match_the_images() {
    let imgs = images(2);
    let wrong = wave(&[2, 1, 14, 14], 1.0, 0.0);
    fails(
        &["saliency tensor has shape [2, 1, 14, 14], expected [2, 1, 28, 28]"],
        |p| draw_saliency(&imgs, &wrong, &strings(2), "t", p),
    );
}
