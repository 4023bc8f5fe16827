//! The network's configuration, its one layer table, the layer geometry and the summary
//! table.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ModelError;

/// What a layer of the network computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKind {
    /// `Conv2d(in, out_channels, kernel, padding=padding)`, stride 1; `in` is the channel
    /// count reaching it (the data's channels for the first convolution).
    Conv2d {
        /// Output channels.
        out_channels: usize,
        /// Kernel height and width.
        kernel: usize,
        /// Zero padding on every side.
        padding: usize,
    },
    /// `ReLU`.
    Relu,
    /// `MaxPool2d(2)`: kernel 2, stride 2.
    MaxPool2d,
    /// `Flatten`: everything after the batch dimension in one.
    Flatten,
    /// `Linear(in, out)`; `in` is the number of features reaching it (computed from the
    /// input size), `out_features: None` is the number of classes.
    Linear {
        /// Output features, or `None` for the class count.
        out_features: Option<usize>,
    },
}

/// One layer of the network: its name (the PyTorch `nn.Sequential` attribute, the name hooks
/// are registered under) and what it computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layer {
    /// `conv1`, `relu1`, ….
    pub name: &'static str,
    /// What it computes.
    pub kind: LayerKind,
    /// The `state_dict` names of its weight and bias, for layers with parameters.
    pub params: Option<[&'static str; 2]>,
}

impl Layer {
    /// The PyTorch class of the layer (`"Conv2d"`, `"ReLU"`, `"MaxPool2d"`, `"Flatten"`,
    /// `"Linear"`).
    pub const fn class(&self) -> &'static str {
        match self.kind {
            LayerKind::Conv2d { .. } => "Conv2d",
            LayerKind::Relu => "ReLU",
            LayerKind::MaxPool2d => "MaxPool2d",
            LayerKind::Flatten => "Flatten",
            LayerKind::Linear { .. } => "Linear",
        }
    }
}

const fn conv(
    name: &'static str,
    params: [&'static str; 2],
    out_channels: usize,
    kernel: usize,
    padding: usize,
) -> Layer {
    Layer {
        name,
        kind: LayerKind::Conv2d {
            out_channels,
            kernel,
            padding,
        },
        params: Some(params),
    }
}

const fn linear(
    name: &'static str,
    params: [&'static str; 2],
    out_features: Option<usize>,
) -> Layer {
    Layer {
        name,
        kind: LayerKind::Linear { out_features },
        params: Some(params),
    }
}

const fn plain(name: &'static str, kind: LayerKind) -> Layer {
    Layer {
        name,
        kind,
        params: None,
    }
}

/// The course network, layer by layer, in forward order: the one place that defines it.
/// Everything else — names, parameter shapes, the forward passes, the summary, the
/// figures' layer lists — is derived from this table.
pub const LAYERS: [Layer; 12] = [
    conv("conv1", ["conv1.weight", "conv1.bias"], 3, 3, 3),
    plain("relu1", LayerKind::Relu),
    plain("maxp1", LayerKind::MaxPool2d),
    conv("conv2", ["conv2.weight", "conv2.bias"], 16, 5, 0),
    plain("relu2", LayerKind::Relu),
    plain("maxp2", LayerKind::MaxPool2d),
    conv("conv3", ["conv3.weight", "conv3.bias"], 110, 6, 0),
    plain("relu3", LayerKind::Relu),
    plain("flatten", LayerKind::Flatten),
    linear("fc1", ["fc1.weight", "fc1.bias"], Some(60)),
    plain("relu4", LayerKind::Relu),
    linear("fc2", ["fc2.weight", "fc2.bias"], None),
];

/// The names of the network's layers, in forward order (from [`LAYERS`]).
pub const LAYER_NAMES: [&str; LAYERS.len()] = {
    let mut names = [""; LAYERS.len()];
    let mut i = 0;
    while i < LAYERS.len() {
        names[i] = LAYERS[i].name;
        i += 1;
    }
    names
};

const PARAMETER_COUNT: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < LAYERS.len() {
        if LAYERS[i].params.is_some() {
            n += 2;
        }
        i += 1;
    }
    n
};

/// The parameter names in PyTorch `state_dict` order (from [`LAYERS`]).
pub const PARAMETER_NAMES: [&str; PARAMETER_COUNT] = {
    let mut names = [""; PARAMETER_COUNT];
    let (mut i, mut n) = (0, 0);
    while i < LAYERS.len() {
        if let Some([w, b]) = LAYERS[i].params {
            names[n] = w;
            names[n + 1] = b;
            n += 2;
        }
        i += 1;
    }
    names
};

/// The most parameters a configuration may ask for: 2³⁰ (4 GiB of f32 weights, 13 000 times
/// the course network at 96×96 inputs), so that an absurd input size is an error naming it
/// rather than an allocation the machine cannot make.
pub const MAX_PARAMETERS: usize = 1 << 30;

/// The smallest square input size the course network takes (28: conv3's 6×6 kernel needs
/// a 6×6 map after two poolings).
pub const MIN_INPUT_SIZE: usize = 28;

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
/// The default is the MNIST family: 1 channel, 10 classes, 28×28. Only the first
/// convolution's input channels, the first linear layer's input features (conv3's output,
/// 110 × h × w) and the last layer's outputs follow the configuration; every other size is
/// the course network's.
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

/// The shapes through one layer (without the batch dimension) and its parameters' shapes.
struct Step {
    output: Vec<usize>,
    params: Option<[Vec<usize>; 2]>,
}

impl NetConfig {
    /// Checks that the configuration gives a working network; the error names the first
    /// layer that does not work out and the numbers.
    pub fn validate(&self) -> Result<(), ModelError> {
        self.steps().map(|_| ())
    }

    /// The output shape of every layer (without the batch dimension), in [`LAYERS`] order.
    pub fn output_shapes(&self) -> Result<Vec<Vec<usize>>, ModelError> {
        Ok(self.steps()?.into_iter().map(|s| s.output).collect())
    }

    /// Shapes of the parameters in PyTorch `state_dict` order, with their names: conv1's
    /// weight is `[3, in_channels, 3, 3]`, fc1's `[60, 110·h·w]` for conv3's `h × w` output,
    /// fc2's `[classes, 60]`.
    pub fn parameter_shapes(&self) -> Result<Vec<(&'static str, Vec<usize>)>, ModelError> {
        let steps = self.steps()?;
        Ok(LAYERS
            .iter()
            .zip(steps)
            .filter_map(|(layer, step)| Some((layer.params?, step.params?)))
            .flat_map(|([wn, bn], [ws, bs])| [(wn, ws), (bn, bs)])
            .collect())
    }

    /// Which kernels of `convlens-ops` each convolution runs on under
    /// [`Backend::Fast`](crate::Backend::Fast) (direct, im2col + gemm, or dense gemm), by
    /// layer name: what a shape that falls back to a slower path than the course network's
    /// is told by.
    pub fn conv_paths(&self) -> Result<Vec<(&'static str, convlens_ops::ConvPath)>, ModelError> {
        let shapes = self.output_shapes()?;
        let mut input = vec![self.in_channels, self.input_size, self.input_size];
        let mut paths = Vec::new();
        for (layer, output) in LAYERS.iter().zip(shapes) {
            if let LayerKind::Conv2d {
                out_channels,
                kernel,
                padding,
            } = layer.kind
            {
                let path = convlens_ops::conv2d_path(
                    [input[0], input[1], input[2]],
                    out_channels,
                    kernel,
                    padding,
                )
                .map_err(|e| ModelError::Candle(e.into()))?;
                paths.push((layer.name, path));
            }
            input = output;
        }
        Ok(paths)
    }

    /// Walks the layer table: every layer's output shape and parameter shapes.
    fn steps(&self) -> Result<Vec<Step>, ModelError> {
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
        let mut steps = Vec::with_capacity(LAYERS.len());
        let mut total_params = 0usize;
        for layer in &LAYERS {
            let name = layer.name;
            let (output, params) = match layer.kind {
                LayerKind::Conv2d {
                    out_channels,
                    kernel,
                    padding,
                } => {
                    let n = shape[1];
                    if output_size_wide(n, kernel, padding, 1) <= 0 {
                        return Err(ModelError::InvalidConfig {
                            layer: name,
                            reason: format!(
                                "input {n}×{n} with kernel {kernel}, padding {padding}, stride 1 \
                                 gives output size ⌊({n} + 2·{padding} − {kernel})/1⌋ + 1 ≤ 0{}",
                                self.hint()
                            ),
                        });
                    }
                    let size = output_size(n, kernel, padding, 1)
                        .ok_or_else(|| self.input_too_large(name))?;
                    (
                        vec![out_channels, size, size],
                        Some([
                            vec![out_channels, shape[0], kernel, kernel],
                            vec![out_channels],
                        ]),
                    )
                }
                LayerKind::MaxPool2d => {
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
                    (vec![shape[0], size, size], None)
                }
                LayerKind::Relu => (shape.clone(), None),
                LayerKind::Flatten => {
                    let features = shape
                        .iter()
                        .try_fold(1usize, |p, &d| p.checked_mul(d))
                        .ok_or_else(|| self.input_too_large(name))?;
                    (vec![features], None)
                }
                LayerKind::Linear { out_features } => {
                    let out = out_features.unwrap_or(self.classes);
                    let features = shape
                        .iter()
                        .try_fold(1usize, |p, &d| p.checked_mul(d))
                        .ok_or_else(|| self.input_too_large(name))?;
                    (vec![out], Some([vec![out, features], vec![out]]))
                }
            };
            if let Some(params) = &params {
                let count = params
                    .iter()
                    .map(|s| s.iter().try_fold(1usize, |p, &d| p.checked_mul(d)))
                    .try_fold(0usize, |sum, n| sum.checked_add(n?))
                    .and_then(|n| total_params.checked_add(n))
                    .filter(|&n| n <= MAX_PARAMETERS);
                total_params = count.ok_or_else(|| self.too_many_parameters(name))?;
            }
            shape = output.clone();
            steps.push(Step { output, params });
        }
        Ok(steps)
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

    /// The error for a configuration whose parameters up to `layer` exceed
    /// [`MAX_PARAMETERS`], naming the field that grows the layer.
    fn too_many_parameters(&self, layer: &str) -> ModelError {
        let (field, value) = match layer {
            "conv1" => ("in_channels", self.in_channels),
            "fc1" => ("input_size", self.input_size),
            _ if self.classes >= self.in_channels => ("classes", self.classes),
            _ => ("in_channels", self.in_channels),
        };
        ModelError::TooLarge {
            field,
            value,
            problem: format!(
                "{layer} would take the network past {MAX_PARAMETERS} parameters (2^30)"
            ),
        }
    }

    /// "; the smallest input size that works is 28".
    fn hint(&self) -> String {
        if self.input_size < MIN_INPUT_SIZE {
            format!(" (the smallest input size that works is {MIN_INPUT_SIZE})")
        } else {
            String::new()
        }
    }

    /// The torchsummary-like table of layers, output shapes and parameter counts.
    ///
    /// Fails as [`NetConfig::validate`] does.
    pub fn summary(&self) -> Result<Summary, ModelError> {
        let steps = self.steps()?;
        let rows: Vec<SummaryRow> = LAYERS
            .iter()
            .zip(steps)
            .map(|(layer, step)| SummaryRow {
                name: layer.name.to_string(),
                params: step
                    .params
                    .iter()
                    .flatten()
                    .map(|s| s.iter().product::<usize>())
                    .sum(),
                output_shape: step.output,
            })
            .collect();
        // Bounded by MAX_PARAMETERS, checked while walking the table.
        let total_params = rows.iter().map(|r| r.params).sum();
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
        LAYERS
            .iter()
            .find(|l| l.name == self.name)
            .map_or("Layer", Layer::class)
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

    /// Sizes and counts near `usize::MAX`, or past [`MAX_PARAMETERS`], are errors naming the
    /// field, never an overflow or an allocation the machine cannot make.
    #[test]
    fn huge_fields_are_errors_not_overflows() {
        let huge = |config: NetConfig| match config.summary() {
            Err(ModelError::TooLarge { field, value, .. }) => (field, value),
            other => panic!("expected TooLarge for {config:?}, got {other:?}"),
        };
        for n in [
            usize::MAX,
            usize::MAX - 3,
            usize::MAX / 2,
            1 << 34,
            1 << 20,
            5000,
        ] {
            let config = NetConfig {
                input_size: n,
                ..NetConfig::default()
            };
            assert_eq!(huge(config), ("input_size", n));
            assert!(config.validate().is_err());
        }
        for n in [usize::MAX, usize::MAX / 60 + 1, MAX_PARAMETERS / 61 + 1] {
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
        // Large but within the limit: the table works.
        let config = NetConfig {
            classes: 1_000_000,
            ..NetConfig::default()
        };
        let summary = config.summary().unwrap();
        assert_eq!(summary.rows[11].params, config.classes * 61);
        let config = NetConfig {
            input_size: 512,
            ..NetConfig::default()
        };
        // 512 → 516 → 258 → 254 → 127 → conv3 122×122.
        assert_eq!(
            config.summary().unwrap().rows[9].params,
            60 * 110 * 122 * 122 + 60
        );
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
