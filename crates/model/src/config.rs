//! The network's configuration, its layer geometry and the summary table.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ModelError;

/// The names of the network's layers, in forward order — the names of the reference PyTorch
/// `nn.Sequential`, and the names hooks are registered under.
pub const LAYER_NAMES: [&str; 12] = [
    "conv1", "relu1", "maxp1", "conv2", "relu2", "maxp2", "conv3", "relu3", "flatten", "fc1",
    "relu4", "fc2",
];

/// The parameter names in PyTorch `state_dict` order.
pub const PARAMETER_NAMES: [&str; 10] = [
    "conv1.weight",
    "conv1.bias",
    "conv2.weight",
    "conv2.bias",
    "conv3.weight",
    "conv3.bias",
    "fc1.weight",
    "fc1.bias",
    "fc2.weight",
    "fc2.bias",
];

/// Output channels of conv1, conv2, conv3 and output features of fc1 (fixed by the course
/// network; fc1's input is conv3's 110 channels of size 1×1).
const CONV1_OUT: usize = 3;
const CONV2_OUT: usize = 16;
const CONV3_OUT: usize = 110;
const FC1_IN: usize = 110;
const FC1_OUT: usize = 60;

/// One layer of the network as a geometry rule.
#[derive(Clone, Copy)]
enum Layer {
    Conv {
        out: usize,
        kernel: usize,
        padding: usize,
    },
    Relu,
    MaxPool,
    Flatten,
    Linear {
        out: Option<usize>,
    },
}

/// The course network's layers, in [`LAYER_NAMES`] order. `Linear { out: None }` is the
/// classifier, whose width is the number of classes.
const LAYERS: [Layer; 12] = [
    Layer::Conv {
        out: CONV1_OUT,
        kernel: 3,
        padding: 3,
    },
    Layer::Relu,
    Layer::MaxPool,
    Layer::Conv {
        out: CONV2_OUT,
        kernel: 5,
        padding: 0,
    },
    Layer::Relu,
    Layer::MaxPool,
    Layer::Conv {
        out: CONV3_OUT,
        kernel: 6,
        padding: 0,
    },
    Layer::Relu,
    Layer::Flatten,
    Layer::Linear { out: Some(FC1_OUT) },
    Layer::Relu,
    Layer::Linear { out: None },
];

/// ⌊(n + 2p − k)/s⌋ + 1, computed in `i128` so that no `usize` input overflows it; may be
/// zero or negative (nothing left) or larger than `usize::MAX`.
fn output_size_wide(n: usize, kernel: usize, padding: usize, stride: usize) -> i128 {
    let span = n as i128 + 2 * padding as i128 - kernel as i128;
    span.div_euclid(stride as i128) + 1
}

/// ⌊(n + 2p − k)/s⌋ + 1, or `None` when that is not positive or not a `usize`.
fn output_size(n: usize, kernel: usize, padding: usize, stride: usize) -> Option<usize> {
    let size = output_size_wide(n, kernel, padding, stride);
    if size > 0 {
        usize::try_from(size).ok()
    } else {
        None
    }
}

/// The network's configuration: input channels, number of classes and (square) input size.
///
/// The default is the MNIST family: 1 channel, 10 classes, 28×28.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetConfig {
    /// Channels of the input images (1 for grayscale, 3 for RGB).
    pub in_channels: usize,
    /// Number of classes (outputs of fc2).
    pub classes: usize,
    /// Height and width of the input images.
    pub input_size: usize,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            in_channels: 1,
            classes: 10,
            input_size: 28,
        }
    }
}

impl NetConfig {
    /// Checks that the configuration gives a working network; the error names the first
    /// layer that does not work out and the numbers.
    pub fn validate(&self) -> Result<(), ModelError> {
        self.output_shapes().map(|_| ())
    }

    /// The output shape of every layer (without the batch dimension), in [`LAYER_NAMES`]
    /// order.
    pub fn output_shapes(&self) -> Result<Vec<Vec<usize>>, ModelError> {
        if self.in_channels == 0 {
            return Err(ModelError::InvalidConfig {
                layer: "conv1",
                reason: "in_channels is 0, must be at least 1".into(),
            });
        }
        if self.classes == 0 {
            return Err(ModelError::InvalidConfig {
                layer: "fc2",
                reason: "classes is 0, must be at least 1".into(),
            });
        }
        let mut shape = vec![self.in_channels, self.input_size, self.input_size];
        let mut shapes = Vec::with_capacity(LAYERS.len());
        for (layer, name) in LAYERS.iter().zip(LAYER_NAMES) {
            shape = match *layer {
                Layer::Conv {
                    out,
                    kernel,
                    padding,
                } => {
                    let n = shape[1];
                    if output_size_wide(n, kernel, padding, 1) > 0 {
                        let size = output_size(n, kernel, padding, 1)
                            .ok_or_else(|| self.input_too_large(name))?;
                        vec![out, size, size]
                    } else {
                        return Err(ModelError::InvalidConfig {
                            layer: name,
                            reason: format!(
                                "input {n}×{n} with kernel {kernel}, padding {padding}, stride 1 \
                                 gives output size ⌊({n} + 2·{padding} − {kernel})/1⌋ + 1 ≤ 0{}",
                                self.hint()
                            ),
                        });
                    }
                }
                Layer::MaxPool => {
                    let n = shape[1];
                    let size =
                        output_size(n, 2, 0, 2).ok_or_else(|| ModelError::InvalidConfig {
                            layer: name,
                            reason: format!(
                                "input {n}×{n} with kernel 2, stride 2 gives output size \
                                 ⌊({n} − 2)/2⌋ + 1 ≤ 0{}",
                                self.hint()
                            ),
                        })?;
                    vec![shape[0], size, size]
                }
                Layer::Relu => shape,
                Layer::Flatten => {
                    let features = shape
                        .iter()
                        .try_fold(1usize, |p, &d| p.checked_mul(d))
                        .ok_or_else(|| self.input_too_large(name))?;
                    if features != FC1_IN {
                        return Err(ModelError::InvalidConfig {
                            layer: name,
                            reason: format!(
                                "gives {features} features ({} channels × {} × {}) but fc1 \
                                 expects {FC1_IN}{}",
                                shape[0],
                                shape[1],
                                shape[2],
                                self.hint()
                            ),
                        });
                    }
                    vec![features]
                }
                Layer::Linear { out } => vec![out.unwrap_or(self.classes)],
            };
            shapes.push(shape.clone());
        }
        Ok(shapes)
    }

    /// The error for an input size whose feature maps at `layer` are larger than a `usize`
    /// can count.
    fn input_too_large(&self, layer: &str) -> ModelError {
        ModelError::TooLarge {
            field: "input_size",
            value: self.input_size,
            problem: format!(
                "{layer}'s output is larger than a usize can count{}",
                self.hint()
            ),
        }
    }

    /// "; input sizes a to b work" — the range of square input sizes that do.
    fn hint(&self) -> String {
        let fits: Vec<usize> = (1..=512)
            .filter(|&n| {
                NetConfig {
                    input_size: n,
                    ..*self
                }
                .fits_fc1()
            })
            .collect();
        match (fits.first(), fits.last()) {
            (Some(a), Some(b)) => format!(" (input sizes {a} to {b} work)"),
            _ => String::new(),
        }
    }

    /// Whether the input size leads to a flatten of exactly fc1's input features.
    fn fits_fc1(&self) -> bool {
        let n = self.input_size;
        let size = output_size(n, 3, 3, 1)
            .and_then(|n| output_size(n, 2, 0, 2))
            .and_then(|n| output_size(n, 5, 0, 1))
            .and_then(|n| output_size(n, 2, 0, 2))
            .and_then(|n| output_size(n, 6, 0, 1));
        size.is_some_and(|s| CONV3_OUT * s * s == FC1_IN)
    }

    /// Shapes of the parameters in PyTorch `state_dict` order, with their names.
    pub fn parameter_shapes(&self) -> Vec<(&'static str, Vec<usize>)> {
        let shapes = [
            vec![CONV1_OUT, self.in_channels, 3, 3],
            vec![CONV1_OUT],
            vec![CONV2_OUT, CONV1_OUT, 5, 5],
            vec![CONV2_OUT],
            vec![CONV3_OUT, CONV2_OUT, 6, 6],
            vec![CONV3_OUT],
            vec![FC1_OUT, FC1_IN],
            vec![FC1_OUT],
            vec![self.classes, FC1_OUT],
            vec![self.classes],
        ];
        PARAMETER_NAMES.into_iter().zip(shapes).collect()
    }

    /// The torchsummary-like table of layers, output shapes and parameter counts.
    ///
    /// Fails as [`NetConfig::validate`] does, and when a parameter count does not fit in a
    /// `usize` (then every tensor of the network would be too large to allocate anyway).
    pub fn summary(&self) -> Result<Summary, ModelError> {
        let shapes = self.output_shapes()?;
        let params = self.parameter_shapes();
        // Only conv1 (in_channels) and fc2 (classes) grow with the configuration.
        let too_many = |layer: &str| {
            let (field, value) = if layer == "conv1" || self.in_channels > self.classes {
                ("in_channels", self.in_channels)
            } else {
                ("classes", self.classes)
            };
            ModelError::TooLarge {
                field,
                value,
                problem: format!("{layer} would have more parameters than a usize counts"),
            }
        };
        let count = |prefix: &str| -> Result<usize, ModelError> {
            params
                .iter()
                .filter(|(name, _)| name.split('.').next() == Some(prefix))
                .map(|(_, shape)| shape.iter().try_fold(1usize, |p, &d| p.checked_mul(d)))
                .try_fold(0usize, |sum, n| sum.checked_add(n?))
                .ok_or_else(|| too_many(prefix))
        };
        let rows: Vec<SummaryRow> = LAYER_NAMES
            .iter()
            .zip(shapes)
            .map(|(name, output_shape)| {
                Ok(SummaryRow {
                    name: name.to_string(),
                    output_shape,
                    params: count(name)?,
                })
            })
            .collect::<Result<_, ModelError>>()?;
        let total_params = rows
            .iter()
            .try_fold(0usize, |sum, r| sum.checked_add(r.params))
            .ok_or_else(|| too_many("the network"))?;
        Ok(Summary {
            input_shape: vec![self.in_channels, self.input_size, self.input_size],
            rows,
            total_params,
        })
    }
}

/// One row of a [`Summary`]: a layer, its output shape and its parameter count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryRow {
    /// The layer's name (one of [`LAYER_NAMES`]).
    pub name: String,
    /// The layer's output shape without the batch dimension.
    pub output_shape: Vec<usize>,
    /// Number of trainable parameters of the layer.
    pub params: usize,
}

impl SummaryRow {
    /// The PyTorch class of the layer, derived from its name (`"Conv2d"`, `"ReLU"`,
    /// `"MaxPool2d"`, `"Flatten"`, `"Linear"`; `"Layer"` for any other name).
    pub fn kind(&self) -> &'static str {
        let name = self.name.as_str();
        if name.starts_with("conv") {
            "Conv2d"
        } else if name.starts_with("relu") {
            "ReLU"
        } else if name.starts_with("maxp") {
            "MaxPool2d"
        } else if name == "flatten" {
            "Flatten"
        } else if name.starts_with("fc") {
            "Linear"
        } else {
            "Layer"
        }
    }
}

/// The network's layers with output shapes and parameter counts; `Display` prints it as a
/// table in the style of torchsummary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Shape of one input image: `[channels, size, size]`.
    pub input_shape: Vec<usize>,
    /// One row per layer, in forward order.
    pub rows: Vec<SummaryRow>,
    /// Total number of trainable parameters.
    pub total_params: usize,
}

/// `71986` → `"71,986"`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn shape_text(shape: &[usize]) -> String {
    let dims: Vec<String> = std::iter::once("-1".to_string())
        .chain(shape.iter().map(|d| d.to_string()))
        .collect();
    format!("[{}]", dims.join(", "))
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = "-".repeat(64);
        let double = "=".repeat(64);
        writeln!(f, "{rule}")?;
        writeln!(
            f,
            "{:>24} {:>24} {:>14}",
            "Layer (type)", "Output Shape", "Param #"
        )?;
        writeln!(f, "{double}")?;
        writeln!(
            f,
            "{:>24} {:>24} {:>14}",
            "input",
            shape_text(&self.input_shape),
            ""
        )?;
        for row in &self.rows {
            writeln!(
                f,
                "{:>24} {:>24} {:>14}",
                format!("{} ({})", row.name, row.kind()),
                shape_text(&row.output_shape),
                thousands(row.params)
            )?;
        }
        writeln!(f, "{double}")?;
        writeln!(f, "Total params: {}", thousands(self.total_params))?;
        writeln!(f, "Trainable params: {}", thousands(self.total_params))?;
        writeln!(f, "Non-trainable params: 0")?;
        write!(f, "{rule}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_size_follows_the_formula() {
        assert_eq!(output_size(28, 3, 3, 1), Some(32));
        assert_eq!(output_size(32, 2, 0, 2), Some(16));
        assert_eq!(output_size(13, 2, 0, 2), Some(6));
        assert_eq!(output_size(4, 5, 0, 1), None);
        assert_eq!(output_size(5, 5, 0, 1), Some(1));
        assert_eq!(output_size(1, 2, 0, 2), None);
        assert_eq!(output_size(usize::MAX, 3, 3, 1), None);
        assert_eq!(
            output_size_wide(usize::MAX, 3, 3, 1),
            usize::MAX as i128 + 4
        );
    }

    /// Sizes and counts near `usize::MAX` are errors naming the field, never an overflow.
    #[test]
    fn huge_fields_are_errors_not_overflows() {
        let huge = |config: NetConfig| match config.summary() {
            Err(ModelError::TooLarge { field, value, .. }) => (field, value),
            other => panic!("expected TooLarge for {config:?}, got {other:?}"),
        };
        for n in [usize::MAX, usize::MAX - 3, usize::MAX / 2] {
            let config = NetConfig {
                input_size: n,
                ..NetConfig::default()
            };
            assert_eq!(huge(config), ("input_size", n));
            assert!(config.validate().is_err());
        }
        // conv3's output is 110 × s × s: s = 2^32 overflows the flatten's count.
        let config = NetConfig {
            input_size: 1 << 34,
            ..NetConfig::default()
        };
        assert_eq!(huge(config), ("input_size", 1 << 34));
        for n in [usize::MAX, usize::MAX / 60 + 1] {
            let config = NetConfig {
                classes: n,
                ..NetConfig::default()
            };
            assert_eq!(huge(config), ("classes", n));
        }
        let config = NetConfig {
            in_channels: usize::MAX / 9,
            ..NetConfig::default()
        };
        assert_eq!(huge(config), ("in_channels", usize::MAX / 9));
        // Large but countable: the table works.
        let config = NetConfig {
            classes: usize::MAX / 1000,
            ..NetConfig::default()
        };
        let summary = config.summary().unwrap();
        assert_eq!(summary.rows[11].params, config.classes * 61);
        // A huge input that is not too large to count is the flatten's mismatch.
        let config = NetConfig {
            input_size: 1 << 20,
            ..NetConfig::default()
        };
        assert!(matches!(
            config.summary(),
            Err(ModelError::InvalidConfig {
                layer: "flatten",
                ..
            })
        ));
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(610), "610");
        assert_eq!(thousands(6660), "6,660");
        assert_eq!(thousands(71986), "71,986");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
