//! The network: parameters, forward passes and the backend switch.

use std::path::Path;

use candle_core::{DType, Device, Result, Tensor, Var};
use convlens_hooks::HookRegistry;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use crate::config::{LayerKind, NetConfig, Summary, LAYERS, LAYER_NAMES, PARAMETER_NAMES};
use crate::error::ModelError;
use crate::io;

/// Which implementation runs the convolutions and the linear layers.
///
/// Both use [`convlens_ops::max_pool2d`], because candle 0.11.1's `max_pool2d` backward
/// passes a quarter of the gradient to every window position instead of all of it to the
/// maximum. [`Backend::Fast`] runs the convolutions and linear layers on `convlens-ops`
/// (fused with their ReLU in the plain forward pass); [`Backend::Candle`] on candle's
/// `conv2d` and `matmul`. The layer-by-layer hooked pass runs candle's ReLU in both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// The CPU kernels of `convlens-ops` for the convolutions and linear layers (fused where
    /// no hook needs the layers apart). CPU only: networks built on another device start with
    /// [`Backend::Candle`].
    #[default]
    Fast,
    /// candle's own `Tensor::conv2d` and `matmul`, each plus a broadcast bias add: the reference
    /// to compare with.
    Candle,
}

impl Backend {
    /// The backend a network on `device` starts with: [`Backend::Fast`] on the CPU,
    /// [`Backend::Candle`] elsewhere.
    pub fn for_device(device: &Device) -> Backend {
        if device.is_cpu() {
            Backend::Fast
        } else {
            Backend::Candle
        }
    }
}

/// For each layer of [`LAYERS`], the index of its weight in [`PARAMETER_NAMES`] order (its
/// bias follows), or `None` for a layer without parameters.
const PARAM_INDEX: [Option<usize>; LAYERS.len()] = {
    let mut index = [None; LAYERS.len()];
    let (mut i, mut n) = (0, 0);
    while i < LAYERS.len() {
        if LAYERS[i].params.is_some() {
            index[i] = Some(n);
            n += 2;
        }
        i += 1;
    }
    index
};

/// The course network: `conv1` Conv2d(in→3, k3, p3) · `relu1` · `maxp1` MaxPool2d(2) ·
/// `conv2` Conv2d(3→16, k5) · `relu2` · `maxp2` · `conv3` Conv2d(16→110, k6) · `relu3` ·
/// `flatten` · `fc1` Linear(110·h·w→60) · `relu4` · `fc2` Linear(60→classes), as the table
/// [`LAYERS`] defines it.
///
/// The network owns its parameters as candle [`Var`]s named and shaped as the PyTorch
/// `state_dict` of the reference `nn.Sequential`.
#[derive(Debug)]
pub struct Network {
    config: NetConfig,
    backend: Backend,
    dtype: DType,
    summary: Summary,
    /// In [`PARAMETER_NAMES`] order.
    params: Vec<Var>,
}

impl Network {
    /// A freshly initialized f32 network; see [`Network::new_with_dtype`].
    pub fn new(
        config: NetConfig,
        seed: u64,
        device: &Device,
    ) -> std::result::Result<Network, ModelError> {
        Self::new_with_dtype(config, seed, DType::F32, device)
    }

    /// A freshly initialized network computing in `dtype` (f32 or f64).
    ///
    /// Weights and biases of every layer are drawn from U(−1/√fan_in, 1/√fan_in), the
    /// distribution of PyTorch's default `Conv2d` and `Linear` initialization, with a ChaCha8
    /// generator seeded by `seed`, in `state_dict` order. The same seed gives the same weights
    /// on every run and machine (f32 weights are the f64 draws rounded).
    pub fn new_with_dtype(
        config: NetConfig,
        seed: u64,
        dtype: DType,
        device: &Device,
    ) -> std::result::Result<Network, ModelError> {
        check_dtype(dtype)?;
        let summary = config.summary()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let shapes = config.parameter_shapes()?;
        let mut params = Vec::with_capacity(shapes.len());
        for pair in shapes.chunks_exact(2) {
            let (_, weight_shape) = &pair[0];
            // fan_in: every weight dimension after the output one.
            let fan_in: usize = weight_shape[1..].iter().product();
            let bound = 1.0 / (fan_in as f64).sqrt();
            for (_, shape) in pair {
                let n: usize = shape.iter().product();
                let values: Vec<f64> = (0..n)
                    .map(|_| bound * (2.0 * unit(&mut rng) - 1.0))
                    .collect();
                let t = Tensor::from_vec(values, shape.as_slice(), device)?.to_dtype(dtype)?;
                params.push(Var::from_tensor(&t)?);
            }
        }
        Ok(Network {
            config,
            backend: Backend::for_device(device),
            dtype,
            summary,
            params,
        })
    }

    /// An f32 network with the weights of a safetensors file whose tensor names are the
    /// PyTorch `state_dict` keys (`conv1.weight`, …, `fc2.bias`).
    ///
    /// Tensors of another float dtype are converted. A missing, misshapen or unexpected
    /// tensor is an error naming it and the file.
    pub fn load(
        config: NetConfig,
        path: &Path,
        device: &Device,
    ) -> std::result::Result<Network, ModelError> {
        Self::load_with_dtype(config, path, DType::F32, device)
    }

    /// As [`Network::load`], computing in `dtype` (f32 or f64).
    pub fn load_with_dtype(
        config: NetConfig,
        path: &Path,
        dtype: DType,
        device: &Device,
    ) -> std::result::Result<Network, ModelError> {
        check_dtype(dtype)?;
        let summary = config.summary()?;
        let tensors = io::load(&config, path, dtype, device)?;
        let params = tensors
            .iter()
            .map(Var::from_tensor)
            .collect::<Result<Vec<_>>>()?;
        Ok(Network {
            config,
            backend: Backend::for_device(device),
            dtype,
            summary,
            params,
        })
    }

    /// Writes the parameters to a safetensors file with PyTorch `state_dict` names.
    ///
    /// The file is written next to `path` under a temporary name and renamed into place, so
    /// `path` never holds a partial file. The same weights give a byte-identical file.
    pub fn save(&self, path: &Path) -> std::result::Result<(), ModelError> {
        io::save(&self.named_tensors(), path)
    }

    /// The bytes [`Network::save`] writes — the parameters under their `state_dict` names as
    /// safetensors — for callers that write files their own way.
    pub fn safetensors_bytes(&self) -> std::result::Result<Vec<u8>, ModelError> {
        io::serialize(&self.named_tensors())
            .map_err(|e| ModelError::Candle(candle_core::Error::wrap(e)))
    }

    fn named_tensors(&self) -> Vec<(&'static str, Tensor)> {
        PARAMETER_NAMES
            .iter()
            .zip(&self.params)
            .map(|(name, var)| (*name, var.as_tensor().detach()))
            .collect()
    }

    /// The network's configuration.
    pub fn config(&self) -> NetConfig {
        self.config
    }

    /// The dtype the network computes in.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The backend running the convolutions.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Chooses the backend running the convolutions.
    pub fn set_backend(&mut self, backend: Backend) {
        self.backend = backend;
    }

    /// The parameters with their PyTorch `state_dict` names, in `state_dict` order. The
    /// `Var`s share storage with the network: an optimizer stepping them trains the network.
    pub fn parameters(&self) -> Vec<(String, Var)> {
        PARAMETER_NAMES
            .iter()
            .zip(&self.params)
            .map(|(name, var)| (name.to_string(), var.clone()))
            .collect()
    }

    /// The parameters in `state_dict` order (the names are [`PARAMETER_NAMES`]), without
    /// the allocations of [`Network::parameters`], for checks that run every step.
    pub fn vars(&self) -> &[Var] {
        &self.params
    }

    /// The layer table with output shapes and parameter counts.
    pub fn summary(&self) -> Summary {
        self.summary.clone()
    }

    /// Logits `[N, classes]` for images `[N, in_channels, input_size, input_size]`.
    ///
    /// With [`Backend::Fast`] the layers run fused — conv+ReLU+pool blocks, conv3+ReLU,
    /// fc1+ReLU — which computes the same values and gradients as the layer-by-layer pass of
    /// [`Network::forward_with_hooks`] without materializing the intermediate tensors.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.check_input(x)?;
        if self.backend == Backend::Fast {
            return self.fused_forward(x);
        }
        let mut x = x.clone();
        for index in 0..LAYER_NAMES.len() {
            x = self.layer(index, &x)?;
        }
        Ok(x)
    }

    /// The fast path: a convolution with the ReLU and pooling after it as one op, a linear
    /// layer with its ReLU as one op (five ops instead of twelve layers for the course
    /// network).
    fn fused_forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = x.clone();
        let mut i = 0;
        while i < LAYERS.len() {
            let next = |k: usize| LAYERS.get(i + k).map(|l| l.kind);
            let relu_next = next(1) == Some(LayerKind::Relu);
            (x, i) = match LAYERS[i].kind {
                LayerKind::Conv2d { padding, .. } => {
                    let (w, b) = self.weights(i)?;
                    if relu_next && next(2) == Some(LayerKind::MaxPool2d) {
                        let y = convlens_ops::conv2d_relu_maxpool2d(&x, w, Some(b), padding)?;
                        (y, i + 3)
                    } else if relu_next {
                        (convlens_ops::conv2d_relu(&x, w, Some(b), padding)?, i + 2)
                    } else {
                        (convlens_ops::conv2d(&x, w, Some(b), padding)?, i + 1)
                    }
                }
                LayerKind::Linear { .. } => {
                    let (w, b) = self.weights(i)?;
                    if relu_next {
                        (convlens_ops::linear_relu(&x, w, Some(b))?, i + 2)
                    } else {
                        (convlens_ops::linear(&x, w, Some(b))?, i + 1)
                    }
                }
                _ => (self.layer(i, &x)?, i + 1),
            };
        }
        Ok(x)
    }

    /// The weight and bias of layer `index` of [`LAYERS`].
    fn weights(&self, index: usize) -> Result<(&Var, &Var)> {
        let w = PARAM_INDEX.get(index).copied().flatten();
        match w.and_then(|w| Some((self.params.get(w)?, self.params.get(w + 1)?))) {
            Some(pair) => Ok(pair),
            None => Err(candle_core::Error::Msg(format!(
                "layer {index} of the network has no parameters"
            ))),
        }
    }

    /// As [`Network::forward`], running every layer through `hooks` under its name in
    /// [`LAYER_NAMES`].
    pub fn forward_with_hooks(&self, x: &Tensor, hooks: &HookRegistry) -> Result<Tensor> {
        self.check_input(x)?;
        let mut x = x.clone();
        for (index, name) in LAYER_NAMES.iter().enumerate() {
            x = hooks.run_layer(name, &x, |x| self.layer(index, x))?;
        }
        Ok(x)
    }

    /// A hook registry that knows this network's layer names, so a misspelled name is an
    /// error at registration rather than a hook that never fires.
    pub fn hook_registry(&self) -> HookRegistry {
        HookRegistry::with_layers(&LAYER_NAMES)
    }

    fn check_input(&self, x: &Tensor) -> Result<()> {
        let expected = [
            self.config.in_channels,
            self.config.input_size,
            self.config.input_size,
        ];
        let dims = x.dims();
        if dims.len() != 4 || dims[1..] != expected {
            return Err(candle_core::Error::Msg(format!(
                "network input has shape {dims:?}, expected [N, {}, {}, {}]",
                expected[0], expected[1], expected[2]
            )));
        }
        if x.dtype() != self.dtype {
            return Err(candle_core::Error::Msg(format!(
                "network input has dtype {:?}, the network computes in {:?}",
                x.dtype(),
                self.dtype
            )));
        }
        Ok(())
    }

    /// Runs layer `index` of [`LAYERS`] on its own.
    fn layer(&self, index: usize, x: &Tensor) -> Result<Tensor> {
        let Some(layer) = LAYERS.get(index) else {
            return Err(candle_core::Error::Msg(format!(
                "the network has {} layers, there is no layer {index}",
                LAYERS.len()
            )));
        };
        match layer.kind {
            LayerKind::Conv2d { padding, .. } => {
                let (w, b) = self.weights(index)?;
                match self.backend {
                    Backend::Fast => fast_conv2d(x, w, b, padding),
                    Backend::Candle => candle_conv2d(x, w, b, padding),
                }
            }
            LayerKind::Linear { .. } => {
                let (w, b) = self.weights(index)?;
                match self.backend {
                    // The op the fused forward uses, so that both forwards give the same bits.
                    Backend::Fast => convlens_ops::linear(x, w, Some(b)),
                    Backend::Candle => x.matmul(&w.t()?)?.broadcast_add(b),
                }
            }
            LayerKind::Relu => x.relu(),
            LayerKind::MaxPool2d => convlens_ops::max_pool2d(x),
            LayerKind::Flatten => x.flatten_from(1),
        }
    }
}

impl candle_core::Module for Network {
    /// [`Network::forward`], so the network composes with candle's `Module` users
    /// (`Sequential`, `apply`).
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        Network::forward(self, xs)
    }
}

/// The convolution of [`Backend::Fast`]: im2col + gemm with bias, CPU only.
fn fast_conv2d(x: &Tensor, w: &Tensor, b: &Tensor, padding: usize) -> Result<Tensor> {
    convlens_ops::conv2d(x, w, Some(b), padding)
}

/// The convolution of [`Backend::Candle`]: candle's `conv2d` and a broadcast bias add.
fn candle_conv2d(x: &Tensor, w: &Tensor, b: &Tensor, padding: usize) -> Result<Tensor> {
    let channels = b.dim(0)?;
    x.conv2d(w, padding, 1, 1, 1)?
        .broadcast_add(&b.reshape((1, channels, 1, 1))?)
}

fn check_dtype(dtype: DType) -> std::result::Result<(), ModelError> {
    match dtype {
        DType::F32 | DType::F64 => Ok(()),
        other => Err(ModelError::UnsupportedDType(other)),
    }
}

/// A uniform draw from [0, 1) with 53 random bits.
fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}
