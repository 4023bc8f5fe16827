//! The same input gives byte-identical files, in both formats.

use std::path::Path;

use convlens_viz::*;

use crate::fixtures::*;

fn identical(name: &str, draw: impl Fn(&Path) -> Result<(), VizError>) {
    let dir = tempdir();
    for ext in ["png", "svg"] {
        let a = dir.path().join(format!("a.{ext}"));
        let b = dir.path().join(format!("b.{ext}"));
        draw(&a).unwrap_or_else(|e| panic!("{name}: {e}"));
        draw(&b).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (a, b) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        assert!(!a.is_empty());
        assert!(a == b, "{name}.{ext} differs between two runs");
    }
}

#[test]
fn every_figure_is_reproducible_byte_for_byte() {
    let names = class_names();
    identical("architecture", |p| {
        draw_architecture(&lenet_blocks(), &[1, 28, 28], "A", p)
    });
    let imgs = images(4);
    identical("samples", |p| draw_samples(&imgs, &captions(4), 2, "S", p));
    identical("curves", |p| draw_curves(&history(5), "C", p));
    let w = wave(&[16, 3, 5, 5], 0.3, 0.0);
    identical("filters", |p| draw_filters("conv2", &w, 4, p));
    let layers = feature_layers(2);
    identical("feature maps", |p| {
        draw_feature_maps(&layers, &captions(2), "F", p)
    });
    let dense = dense_layers(2);
    let probs = probabilities(2);
    identical("classifier", |p| {
        draw_classifier(&dense, &probs, &captions(2), &names, "K", p)
    });
    identical("confusion", |p| {
        draw_confusion(&confusion(), &names, "M", p)
    });
    identical("misclassified", |p| {
        draw_misclassified(&imgs, &misclassified(4), &names, 4, "W", p)
    });
    identical("stats", |p| draw_activation_stats(&stats(), "T", p));
    let sal = wave(&[4, 1, 28, 28], 1.0, 0.0);
    identical("saliency", |p| {
        draw_saliency(&imgs, &sal, &captions(4), "G", p)
    });
}

#[test]
fn colour_and_many_class_figures_are_reproducible_byte_for_byte() {
    let rgb = quadrants(2, 32);
    identical("rgb samples", |p| {
        draw_samples(&rgb, &captions(2), 2, "S", p)
    });
    let w = wave(&[3, 3, 3, 3], 0.3, 0.0);
    identical("rgb filters", |p| draw_input_filters("conv1", &w, 16, p));
    let layers = vec![("conv1".to_string(), wave(&[2, 20, 36, 36], 1.0, 0.0))];
    identical("feature maps with input", |p| {
        draw_feature_maps_with_input(&rgb, &layers, &captions(2), "F", p)
    });
    let gradient = wave(&[2, 3, 32, 32], 1.0, 0.0);
    identical("rgb saliency", |p| {
        draw_saliency(&rgb, &gradient, &captions(2), "G", p)
    });
    let names = many_names(100);
    let counts: Vec<Vec<u64>> = (0..100)
        .map(|t| (0..100).map(|p| ((t * 7 + p * 3) % 13) as u64).collect())
        .collect();
    identical("100-class confusion", |p| {
        draw_confusion(&counts, &names, "M", p)
    });
    let probs = (wave(&[2, 100], 0.5, 0.5) / 100.0).unwrap();
    let dense = vec![("fc2".to_string(), wave(&[2, 100], 2.0, 0.0))];
    identical("100-class classifier", |p| {
        draw_classifier(&dense, &probs, &captions(2), &names, "K", p)
    });
}
