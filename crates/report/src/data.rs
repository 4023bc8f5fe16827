//! What a page shows, as plain data.

use serde::Serialize;

/// Everything the explorer page embeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The data's name (e.g. `MNIST`), shown in the page's title.
    pub title: String,
    /// The dataset as the run names it (`mnist`, `idx:/data/shapes`, …).
    pub dataset: String,
    /// The version of the program that wrote the run.
    pub version: String,
    /// The training arguments as recorded, shown as a table (keys and values as JSON).
    pub config: serde_json::Map<String, serde_json::Value>,
    /// Input channels (1 or 3).
    pub in_channels: usize,
    /// Input height and width.
    pub input_size: usize,
    /// Class names in label order.
    pub classes: Vec<String>,
    /// One entry per finished epoch.
    pub history: Vec<Epoch>,
    /// The network, layer by layer in forward order.
    pub layers: Vec<LayerSpec>,
    /// Every parameter the layers name, with its shape.
    pub weights: Vec<NamedTensor>,
    /// The embedded test images.
    pub images: Vec<ImageEntry>,
    /// Their pixels, `images × in_channels × input_size × input_size`, as stored in the
    /// dataset (the network sees `pixel / 255`).
    pub pixels: Vec<u8>,
    /// The logits the network computed for them, `images × classes`.
    pub logits: Vec<f32>,
    /// What each layer output for them (any subset of the layers).
    pub maps: Vec<LayerMaps>,
    /// The evaluation over the whole test set.
    pub evaluation: Evaluation,
    /// Activation statistics per layer over the test set.
    pub stats: Vec<LayerStatsRow>,
    /// Attribution maps for some of the embedded images, when the run has them.
    pub attributions: Option<Attributions>,
}

/// One epoch of the training history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Epoch {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Validation loss.
    pub val_loss: f64,
    /// Training accuracy (0–1).
    pub train_accuracy: f64,
    /// Validation accuracy (0–1).
    pub val_accuracy: f64,
}

/// One layer: what it computes and the shape of its output for one image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerSpec {
    /// The layer's name (`conv1`, …).
    pub name: String,
    /// `conv` (stride 1), `relu`, `pool` (2×2 max, stride 2), `flatten` or `linear`.
    pub kind: String,
    /// The convolution's kernel size (0 for other layers).
    pub kernel: usize,
    /// The convolution's zero padding (0 for other layers).
    pub padding: usize,
    /// Output shape for one image: `[C, H, W]` or `[N]`.
    pub shape: Vec<usize>,
    /// Names of the weight and bias in [`Report::weights`], for `conv` and `linear`.
    pub params: Option<[String; 2]>,
}

/// A parameter tensor, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// Its name (`conv1.weight`, …).
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its values.
    pub values: Vec<f32>,
}

/// An embedded test image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImageEntry {
    /// Its index in the test set.
    pub index: usize,
    /// Its true class.
    pub label: usize,
    /// The class the network predicts.
    pub predicted: usize,
}

/// One layer's output for every embedded image, `images × shape`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerMaps {
    /// The layer's name.
    pub layer: String,
    /// The values.
    pub values: Vec<f32>,
}

/// The test-set evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// Images evaluated.
    pub images: usize,
    /// Fraction classified correctly.
    pub accuracy: f64,
    /// Mean cross-entropy.
    pub loss: f64,
    /// Accuracy per class.
    pub per_class: Vec<f64>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<u64>>,
}

/// A layer's activation statistics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerStatsRow {
    /// The layer's name.
    pub layer: String,
    /// Output shape for one image.
    pub shape: Vec<usize>,
    /// Fraction of values exactly 0.
    pub zero_fraction: f64,
    /// Mean of all values.
    pub mean: f64,
    /// Fraction of channels never > 0.
    pub never_active_fraction: f64,
    /// Mean per channel.
    pub channel_means: Vec<f64>,
    /// Standard deviation per channel.
    pub channel_stds: Vec<f64>,
}

/// Attribution maps ("what the network looks at") for some embedded images.
#[derive(Debug, Clone, PartialEq)]
pub struct Attributions {
    /// Positions in [`Report::images`] of the images that have maps.
    pub images: Vec<usize>,
    /// Height and width of each map.
    pub size: [usize; 2],
    /// Per method (`saliency`, `gradcam`, …): `images × height × width` values.
    pub methods: Vec<(String, Vec<f32>)>,
}

impl Report {
    /// A complete small report: a 1×4×4 input, one 3×3 convolution with one channel, ReLU,
    /// flatten and a linear layer to two classes; one image. For examples and tests.
    pub fn example() -> Report {
        let pixels: Vec<u8> = (0..16).map(|i| (i * 16) as u8).collect();
        let x: Vec<f32> = pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
        let kernel = [0.5f32, -0.25, 0.0, 0.25, 1.0, -0.5, 0.0, 0.125, 0.25];
        let bias = 0.1f32;
        let mut conv = Vec::new();
        for y in 0..2 {
            for xx in 0..2 {
                let mut s = 0.0;
                for ky in 0..3 {
                    for kx in 0..3 {
                        s += kernel[ky * 3 + kx] * x[(y + ky) * 4 + xx + kx];
                    }
                }
                conv.push(s + bias);
            }
        }
        let relu: Vec<f32> = conv.iter().map(|v| v.max(0.0)).collect();
        let fc_w = [1.0f32, -1.0, 0.5, 0.25, -0.5, 1.0, 0.0, 2.0];
        let fc_b = [0.0f32, 0.5];
        let logits: Vec<f32> = (0..2)
            .map(|o| fc_b[o] + (0..4).map(|i| fc_w[o * 4 + i] * relu[i]).sum::<f32>())
            .collect();
        let layer =
            |name: &str, kind: &str, kernel, shape: &[usize], params: Option<&str>| LayerSpec {
                name: name.into(),
                kind: kind.into(),
                kernel,
                padding: 0,
                shape: shape.to_vec(),
                params: params.map(|p| [format!("{p}.weight"), format!("{p}.bias")]),
            };
        let predicted = usize::from(logits[1] > logits[0]);
        Report {
            title: "Example".into(),
            dataset: "example".into(),
            version: "0.1.0".into(),
            config: serde_json::Map::new(),
            in_channels: 1,
            input_size: 4,
            classes: vec!["zero".into(), "one".into()],
            history: vec![Epoch {
                epoch: 1,
                train_loss: 0.7,
                val_loss: 0.6,
                train_accuracy: 0.5,
                val_accuracy: 0.6,
            }],
            layers: vec![
                layer("conv1", "conv", 3, &[1, 2, 2], Some("conv1")),
                layer("relu1", "relu", 0, &[1, 2, 2], None),
                layer("flatten", "flatten", 0, &[4], None),
                layer("fc1", "linear", 0, &[2], Some("fc1")),
            ],
            weights: vec![
                NamedTensor {
                    name: "conv1.weight".into(),
                    shape: vec![1, 1, 3, 3],
                    values: kernel.to_vec(),
                },
                NamedTensor {
                    name: "conv1.bias".into(),
                    shape: vec![1],
                    values: vec![bias],
                },
                NamedTensor {
                    name: "fc1.weight".into(),
                    shape: vec![2, 4],
                    values: fc_w.to_vec(),
                },
                NamedTensor {
                    name: "fc1.bias".into(),
                    shape: vec![2],
                    values: fc_b.to_vec(),
                },
            ],
            images: vec![ImageEntry {
                index: 0,
                label: 1,
                predicted,
            }],
            pixels,
            logits: logits.clone(),
            maps: vec![
                LayerMaps {
                    layer: "conv1".into(),
                    values: conv,
                },
                LayerMaps {
                    layer: "relu1".into(),
                    values: relu,
                },
                LayerMaps {
                    layer: "fc1".into(),
                    values: logits,
                },
            ],
            evaluation: Evaluation {
                images: 1,
                accuracy: if predicted == 1 { 1.0 } else { 0.0 },
                loss: 0.5,
                per_class: vec![0.0, 1.0],
                confusion: vec![vec![0, 0], vec![1 - predicted as u64, predicted as u64]],
            },
            stats: Vec::new(),
            attributions: None,
        }
    }
}
