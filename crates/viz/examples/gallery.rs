//! Draws every figure of the crate from a small LeNet with seeded random
//! weights, as PNG and SVG, to look at the layouts.
//!
//! ```text
//! cargo run -p convlens-viz --example gallery -- OUT_DIR [t10k-images-idx3-ubyte.gz]
//! ```
//!
//! With an MNIST-style image file the inputs are real images, otherwise
//! synthetic strokes. The weights are untrained, so the numbers mean nothing;
//! the shapes, scales and layouts are those of the course network.

use std::error::Error;
use std::io::Read;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, D};
use convlens_viz::*;

/// A tiny deterministic generator (64-bit LCG) for weights.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    fn tensor(&mut self, shape: &[usize], fan_in: usize) -> Result<Tensor, Box<dyn Error>> {
        let n: usize = shape.iter().product();
        let bound = (6.0 / fan_in as f32).sqrt();
        let v: Vec<f32> = (0..n).map(|_| self.next() * bound).collect();
        Ok(Tensor::from_vec(v, shape, &Device::Cpu)?)
    }
}

fn load_images(path: Option<&Path>, n: usize) -> Result<Tensor, Box<dyn Error>> {
    let mut pixels = vec![0f32; n * 28 * 28];
    if let Some(path) = path {
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(path)?).read_to_end(&mut bytes)?;
        for (i, b) in bytes[16..16 + n * 784].iter().enumerate() {
            pixels[i] = *b as f32 / 255.0;
        }
    } else {
        for i in 0..n {
            for y in 0..28 {
                for x in 0..28 {
                    let (fx, fy) = (x as f32 - 14.0, y as f32 - 14.0);
                    let r = (fx * fx + fy * fy).sqrt();
                    let ring = (-((r - 6.0 - (i % 4) as f32) / 1.6).powi(2)).exp();
                    let bar = (-((fx - (i % 7) as f32 + 3.0) / 1.3).powi(2)).exp();
                    pixels[(i * 28 + y) * 28 + x] = if i % 2 == 0 { ring } else { bar };
                }
            }
        }
    }
    Ok(Tensor::from_vec(pixels, (n, 1, 28, 28), &Device::Cpu)?)
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "gallery".to_string()));
    let data = args.next().map(PathBuf::from);
    std::fs::create_dir_all(&out)?;
    let classes: Vec<String> = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let both = |name: &str| {
        [
            out.join(format!("{name}.png")),
            out.join(format!("{name}.svg")),
        ]
    };

    let images = load_images(data.as_deref(), 30)?;
    let mut rng = Lcg(7);
    let w1 = rng.tensor(&[3, 1, 3, 3], 9)?;
    let w2 = rng.tensor(&[16, 3, 5, 5], 75)?;
    let w3 = rng.tensor(&[110, 16, 6, 6], 576)?;
    let f1 = rng.tensor(&[60, 110], 110)?;
    let f2 = rng.tensor(&[10, 60], 60)?;

    let x = images.narrow(0, 0, 10)?;
    let conv1 = x.conv2d(&w1, 3, 1, 1, 1)?;
    let relu1 = conv1.relu()?;
    let maxp1 = relu1.max_pool2d(2)?;
    let conv2 = maxp1.conv2d(&w2, 0, 1, 1, 1)?;
    let relu2 = conv2.relu()?;
    let maxp2 = relu2.max_pool2d(2)?;
    let conv3 = maxp2.conv2d(&w3, 0, 1, 1, 1)?;
    let relu3 = conv3.relu()?;
    let flatten = relu3.flatten_from(1)?;
    let fc1 = flatten.matmul(&f1.t()?)?;
    let relu4 = fc1.relu()?;
    let fc2 = relu4.matmul(&f2.t()?)?;
    let probs = candle_core::Tensor::exp(&fc2.broadcast_sub(&fc2.max_keepdim(D::Minus1)?)?)?;
    let probs = probs.broadcast_div(&probs.sum_keepdim(D::Minus1)?)?;
    let preds: Vec<u32> = probs.argmax(D::Minus1)?.to_dtype(DType::U32)?.to_vec1()?;
    let truth: Vec<usize> = (0..10).map(|i| (i * 3) % 10).collect();
    let captions: Vec<String> = (0..10)
        .map(|i| {
            format!(
                "true {} / pred {}",
                classes[truth[i]], classes[preds[i] as usize]
            )
        })
        .collect();

    let blocks = vec![
        LayerBlock::new("conv1", &[3, 32, 32], 30),
        LayerBlock::new("relu1", &[3, 32, 32], 0),
        LayerBlock::new("maxp1", &[3, 16, 16], 0),
        LayerBlock::new("conv2", &[16, 12, 12], 1216),
        LayerBlock::new("relu2", &[16, 12, 12], 0),
        LayerBlock::new("maxp2", &[16, 6, 6], 0),
        LayerBlock::new("conv3", &[110, 1, 1], 63470),
        LayerBlock::new("relu3", &[110, 1, 1], 0),
        LayerBlock::new("flatten", &[110], 0),
        LayerBlock::new("fc1", &[60], 6660),
        LayerBlock::new("relu4", &[60], 0),
        LayerBlock::new("fc2", &[10], 610),
    ];
    for p in both("architecture") {
        draw_architecture(&blocks, &[1, 28, 28], "Network architecture", &p)?;
    }
    let sample_captions: Vec<String> = (0..30).map(|i| classes[i % 10].clone()).collect();
    for p in both("samples") {
        draw_samples(
            &images,
            &sample_captions,
            10,
            "First 30 training images",
            &p,
        )?;
    }
    let history: Vec<EpochPoint> = (1..=20)
        .map(|e| {
            let t = e as f64;
            EpochPoint {
                epoch: e,
                train_loss: 0.9 * (-t / 4.0).exp() + 0.005,
                val_loss: 0.8 * (-t / 4.0).exp() + 0.04 + 0.001 * t,
                train_accuracy: 1.0 - 0.2 * (-t / 3.0).exp() - 0.001,
                val_accuracy: 0.988 - 0.15 * (-t / 3.0).exp() - 0.0002 * (t - 12.0).abs(),
            }
        })
        .collect();
    for p in both("curves") {
        draw_curves(&history, "Training curves (MNIST)", &p)?;
    }
    for (name, w) in [("conv1", &w1), ("conv2", &w2), ("conv3", &w3)] {
        for p in both(&format!("filters_{name}")) {
            draw_filters(name, w, DEFAULT_MAX_FILTERS, &p)?;
        }
    }
    let layers = vec![
        ("conv1".to_string(), conv1),
        ("relu1".to_string(), relu1),
        ("maxp1".to_string(), maxp1),
        ("conv2".to_string(), conv2),
        ("relu2".to_string(), relu2),
        ("maxp2".to_string(), maxp2),
        ("conv3".to_string(), conv3.clone()),
        ("relu3".to_string(), relu3.clone()),
    ];
    for p in both("feature_maps") {
        draw_feature_maps(&layers, &captions, "Feature maps of 10 test images", &p)?;
    }
    let dense = vec![
        ("flatten".to_string(), flatten),
        ("fc1".to_string(), fc1),
        ("relu4".to_string(), relu4),
        ("fc2".to_string(), fc2),
    ];
    let short: Vec<String> = truth
        .iter()
        .map(|t| format!("true {}", classes[*t]))
        .collect();
    for p in both("classifier") {
        draw_classifier(&dense, &probs, &short, &classes, "Classifier layers", &p)?;
    }
    let mut counts = vec![vec![0u64; 10]; 10];
    for (t, row) in counts.iter_mut().enumerate() {
        for (p, c) in row.iter_mut().enumerate() {
            *c = if t == p {
                900 + 7 * t as u64
            } else {
                ((t * 7 + p * 3) % 11) as u64 * ((t + p) % 3) as u64
            };
        }
    }
    for p in both("confusion") {
        draw_confusion(&counts, &classes, "Confusion matrix (test set)", &p)?;
    }
    let items: Vec<Misclassified> = (0..20)
        .map(|i| Misclassified {
            true_class: i % 10,
            predicted: (i * 3 + 1) % 10,
            confidence: 0.5 + (i as f64) * 0.02,
        })
        .collect();
    for p in both("misclassified") {
        draw_misclassified(
            &images.narrow(0, 0, 20)?,
            &items,
            &classes,
            10,
            "Misclassified test images",
            &p,
        )?;
    }
    let names = [
        "conv1", "relu1", "maxp1", "conv2", "relu2", "maxp2", "conv3", "relu3", "fc1", "relu4",
        "fc2",
    ];
    let stats: Vec<LayerStats> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let channels = match i {
                0..=2 => 3,
                3..=5 => 16,
                6 | 7 => 110,
                _ => 0,
            };
            let relu = n.starts_with("relu") || n.starts_with("maxp");
            LayerStats {
                layer: n.to_string(),
                zero_fraction: if n.starts_with("relu") {
                    0.3 + 0.05 * i as f64
                } else {
                    0.0
                },
                mean: if relu {
                    0.2 + 0.03 * i as f64
                } else {
                    -0.1 + 0.02 * i as f64
                },
                dead_channel_fraction: if n.starts_with("relu") {
                    0.02 * i as f64
                } else {
                    0.0
                },
                channel_means: (0..channels)
                    .map(|c| (c * 37 % 17) as f64 / 17.0 - if relu { 0.0 } else { 0.4 })
                    .collect(),
                channel_stds: (0..channels)
                    .map(|c| 0.1 + (c * 13 % 7) as f64 / 30.0)
                    .collect(),
            }
        })
        .collect();
    for p in both("activation_stats") {
        draw_activation_stats(&stats, "Activation statistics (test set)", &p)?;
    }
    let saliency = x.sqr()?.affine(1.0, 0.05)?.mul(&x.ones_like()?)?;
    for p in both("saliency") {
        draw_saliency(&x, &saliency, &captions, "Gradient saliency", &p)?;
    }
    println!("figures written to {}", out.display());
    Ok(())
}
