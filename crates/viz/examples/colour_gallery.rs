//! Draws the figures that depend on the input for colour images of 32×32 and
//! 96×96 pixels and a hundred classes, with seeded random weights, as PNG and SVG.
//!
//! ```text
//! cargo run -p convlens-viz --example colour_gallery -- OUT_DIR
//! ```
//!
//! The images are synthetic coloured discs and bars; the weights are untrained,
//! so the numbers mean nothing: the figure is about layout and colour.

use std::error::Error;
use std::path::PathBuf;

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

/// `n` RGB images: a coloured disc on a coloured background.
fn images(n: usize, side: usize) -> Result<Tensor, Box<dyn Error>> {
    let palette = [
        [0.9, 0.2, 0.1],
        [0.1, 0.6, 0.2],
        [0.2, 0.3, 0.9],
        [0.95, 0.8, 0.1],
        [0.6, 0.1, 0.7],
        [0.1, 0.7, 0.8],
    ];
    let mut v = vec![0f32; n * 3 * side * side];
    for i in 0..n {
        let fg = palette[i % palette.len()];
        let bg = palette[(i + 2) % palette.len()];
        let r = side as f32 * (0.2 + 0.03 * (i % 5) as f32);
        let c = side as f32 / 2.0;
        for y in 0..side {
            for x in 0..side {
                let (fx, fy) = (x as f32 - c, y as f32 - c + (i % 3) as f32 * 2.0);
                let inside = (fx * fx + fy * fy).sqrt() < r;
                let colour = if inside { fg } else { bg.map(|b| b * 0.5) };
                for ch in 0..3 {
                    v[((i * 3 + ch) * side + y) * side + x] = colour[ch];
                }
            }
        }
    }
    Ok(Tensor::from_vec(v, (n, 3, side, side), &Device::Cpu)?)
}

fn main() -> Result<(), Box<dyn Error>> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "gallery".into()));
    let classes: Vec<String> = (0..100)
        .map(|i| match i {
            13 => "a class with a particularly long name".to_string(),
            _ => format!("class {i}"),
        })
        .collect();
    for side in [32usize, 96] {
        let dir = out.join(format!("rgb{side}"));
        std::fs::create_dir_all(&dir)?;
        let both = |name: &str| {
            [
                dir.join(format!("{name}.png")),
                dir.join(format!("{name}.svg")),
            ]
        };
        let all = images(30, side)?;
        let captions: Vec<String> = (0..30).map(|i| classes[(i * 7) % 100].clone()).collect();
        for p in both("samples") {
            draw_samples(
                &all,
                &captions,
                10,
                &format!("30 images of {side}×{side}"),
                &p,
            )?;
        }
        let mut rng = Lcg(11);
        let w1 = rng.tensor(&[3, 3, 3, 3], 27)?;
        let w2 = rng.tensor(&[16, 3, 5, 5], 75)?;
        let w3 = rng.tensor(&[110, 16, 6, 6], 576)?;
        for p in both("filters_conv1") {
            draw_input_filters("conv1", &w1, DEFAULT_MAX_FILTERS, &p)?;
        }
        let x = all.narrow(0, 0, 6)?;
        let conv1 = x.conv2d(&w1, 3, 1, 1, 1)?;
        let relu1 = conv1.relu()?;
        let maxp1 = relu1.max_pool2d(2)?;
        let conv2 = maxp1.conv2d(&w2, 0, 1, 1, 1)?;
        let relu2 = conv2.relu()?;
        let maxp2 = relu2.max_pool2d(2)?;
        let conv3 = maxp2.conv2d(&w3, 0, 1, 1, 1)?;
        let relu3 = conv3.relu()?;
        let flatten = relu3.flatten_from(1)?;
        let f1 = rng.tensor(&[60, flatten.dim(1)?], flatten.dim(1)?)?;
        let f2 = rng.tensor(&[100, 60], 60)?;
        let fc1 = flatten.matmul(&f1.t()?)?;
        let relu4 = fc1.relu()?;
        let fc2 = relu4.matmul(&f2.t()?)?;
        let probs = fc2.broadcast_sub(&fc2.max_keepdim(D::Minus1)?)?.exp()?;
        let probs = probs.broadcast_div(&probs.sum_keepdim(D::Minus1)?)?;
        let preds: Vec<u32> = probs.argmax(D::Minus1)?.to_dtype(DType::U32)?.to_vec1()?;
        let captions: Vec<String> = (0..6)
            .map(|i| {
                format!(
                    "true {} / pred {}",
                    classes[(i * 7) % 100],
                    classes[preds[i] as usize]
                )
            })
            .collect();
        let layers: Vec<(String, Tensor)> = [
            ("conv1", conv1),
            ("relu1", relu1),
            ("maxp1", maxp1),
            ("conv2", conv2),
            ("relu2", relu2),
            ("maxp2", maxp2),
            ("conv3", conv3),
            ("relu3", relu3),
        ]
        .into_iter()
        .map(|(n, t)| (n.to_string(), t))
        .collect();
        for p in both("feature_maps") {
            draw_feature_maps_with_input(&x, &layers, &captions, "Feature maps", &p)?;
        }
        let dense = vec![
            ("fc1".to_string(), fc1),
            ("relu4".to_string(), relu4),
            ("fc2".to_string(), fc2),
        ];
        let short: Vec<String> = (0..6)
            .map(|i| format!("true {}", classes[(i * 7) % 100]))
            .collect();
        for p in both("classifier") {
            draw_classifier(&dense, &probs, &short, &classes, "Classifier layers", &p)?;
        }
        // A per-channel "gradient": brightest where the image is red.
        let gradient = x.affine(1.0, -0.4)?;
        for p in both("saliency") {
            draw_saliency(&x, &gradient, &captions, "Gradient saliency", &p)?;
        }
        let counts: Vec<Vec<u64>> = (0..100)
            .map(|t| {
                (0..100)
                    .map(|p| {
                        if t == p {
                            60 + (t as u64 * 7) % 30
                        } else if (t * 13 + p * 7) % 97 == 0 {
                            (t as u64 % 9) + 1
                        } else {
                            u64::from((t + p) % 41 == 0)
                        }
                    })
                    .collect()
            })
            .collect();
        for p in both("confusion") {
            draw_confusion(&counts, &classes, "Confusion matrix, 100 classes", &p)?;
        }
        // Just above the class count that still prints numbers.
        let some: Vec<Vec<u64>> = counts[..30].iter().map(|r| r[..30].to_vec()).collect();
        for p in both("confusion_30") {
            draw_confusion(&some, &classes[..30], "Confusion matrix, 30 classes", &p)?;
        }
    }
    println!("figures written to {}", out.display());
    Ok(())
}
