//! Streaming activation statistics: per-layer and per-channel summaries over any number of
//! batches, without keeping the activations.

use std::sync::{Arc, Mutex, MutexGuard};

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::HookError;
use crate::registry::{HookHandle, HookRegistry, LayerSelector};

/// Statistics of one channel (dimension 1 of the layer output: a feature map of a 4-D
/// `[N, C, H, W]` output, or a feature of a 2-D `[N, F]` output).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelStats {
    /// Mean over all images and positions.
    pub mean: f64,
    /// Population standard deviation over all images and positions.
    pub std: f64,
    /// Largest value seen.
    pub max: f64,
    /// Whether any value was ever > 0 (a ReLU channel that never is, is dead).
    pub ever_active: bool,
}

/// Statistics of one layer's output over everything that went through it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerStats {
    /// The layer's name.
    pub layer: String,
    /// Shape of one image's output (without the batch dimension).
    pub shape: Vec<usize>,
    /// Number of images seen.
    pub images: u64,
    /// Number of values seen.
    pub elements: u64,
    /// Number of values exactly equal to 0.
    pub zeros: u64,
    /// `zeros / elements`.
    pub zero_fraction: f64,
    /// Mean of all values.
    pub mean: f64,
    /// Fraction of channels whose values were never > 0.
    pub never_active_fraction: f64,
    /// Per-channel statistics, in channel order.
    pub channels: Vec<ChannelStats>,
}

#[derive(Clone, Copy)]
struct ChannelAccumulator {
    sum: f64,
    sum_squares: f64,
    max: f64,
    ever_active: bool,
}

struct LayerAccumulator {
    shape: Vec<usize>,
    images: u64,
    elements: u64,
    zeros: u64,
    sum: f64,
    channels: Vec<ChannelAccumulator>,
}

impl LayerAccumulator {
    fn new(shape: &[usize]) -> Self {
        LayerAccumulator {
            shape: shape.to_vec(),
            images: 0,
            elements: 0,
            zeros: 0,
            sum: 0.0,
            channels: vec![
                ChannelAccumulator {
                    sum: 0.0,
                    sum_squares: 0.0,
                    max: f64::NEG_INFINITY,
                    ever_active: false,
                };
                shape[0]
            ],
        }
    }

    /// `values` is a batch laid out as `[batch, channels, positions]`.
    fn add<T: Copy + Into<f64>>(&mut self, values: &[T], batch: usize) {
        let channels = self.channels.len();
        let positions = values.len() / (batch * channels).max(1);
        self.images += batch as u64;
        self.elements += values.len() as u64;
        if channels * positions == 0 {
            return;
        }
        for image in values.chunks_exact(channels * positions) {
            for (acc, channel) in self.channels.iter_mut().zip(image.chunks_exact(positions)) {
                let (mut sum, mut sum_squares, mut max) = (0.0f64, 0.0f64, acc.max);
                let mut zeros = 0u64;
                for &v in channel {
                    let v: f64 = v.into();
                    sum += v;
                    sum_squares += v * v;
                    if v > max {
                        max = v;
                    }
                    zeros += u64::from(v == 0.0);
                }
                acc.sum += sum;
                acc.sum_squares += sum_squares;
                acc.max = max;
                acc.ever_active |= max > 0.0;
                self.zeros += zeros;
                self.sum += sum;
            }
        }
    }

    fn stats(&self, layer: &str) -> LayerStats {
        let per_channel = if self.channels.is_empty() {
            0.0
        } else {
            self.elements as f64 / self.channels.len() as f64
        };
        let channels: Vec<ChannelStats> = self
            .channels
            .iter()
            .map(|c| {
                let (mean, std) = if per_channel > 0.0 {
                    let mean = c.sum / per_channel;
                    let var = (c.sum_squares / per_channel - mean * mean).max(0.0);
                    (mean, var.sqrt())
                } else {
                    (0.0, 0.0)
                };
                ChannelStats {
                    mean,
                    std,
                    max: c.max,
                    ever_active: c.ever_active,
                }
            })
            .collect();
        let never_active = channels.iter().filter(|c| !c.ever_active).count();
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        LayerStats {
            layer: layer.to_string(),
            shape: self.shape.clone(),
            images: self.images,
            elements: self.elements,
            zeros: self.zeros,
            zero_fraction: ratio(self.zeros as f64, self.elements as f64),
            mean: ratio(self.sum, self.elements as f64),
            never_active_fraction: ratio(never_active as f64, channels.len() as f64),
            channels,
        }
    }
}

#[derive(Default)]
struct StatsState {
    layers: Vec<(String, LayerAccumulator)>,
}

fn lock(state: &Mutex<StatsState>) -> MutexGuard<'_, StatsState> {
    // Accumulators are updated only after the batch was read; a poisoned lock holds
    // consistent data.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn observe(state: &Mutex<StatsState>, layer: &str, output: &Tensor) -> candle_core::Result<()> {
    let dims = output.dims();
    if dims.len() < 2 {
        return Err(candle_core::Error::Msg(format!(
            "cannot take statistics of layer '{layer}': its output has shape {dims:?}, \
             expected [batch, channels, ...]"
        )));
    }
    let batch = dims[0];
    let flat = output.flatten_all()?;
    // Read the batch before locking, so a failed read leaves the accumulators untouched.
    let values = match output.dtype() {
        DType::F64 => Values::F64(flat.to_vec1::<f64>()?),
        DType::F32 => Values::F32(flat.to_vec1::<f32>()?),
        _ => Values::F32(flat.to_dtype(DType::F32)?.to_vec1::<f32>()?),
    };
    let mut state = lock(state);
    let index = match state.layers.iter().position(|(n, _)| n == layer) {
        Some(i) => i,
        None => {
            state
                .layers
                .push((layer.to_string(), LayerAccumulator::new(&dims[1..])));
            state.layers.len() - 1
        }
    };
    let acc = &mut state.layers[index].1;
    if acc.shape != dims[1..] {
        return Err(candle_core::Error::Msg(format!(
            "cannot take statistics of layer '{layer}': this batch's output has per-image \
             shape {:?}, earlier batches had {:?}",
            &dims[1..],
            acc.shape
        )));
    }
    match values {
        Values::F32(v) => acc.add(&v, batch),
        Values::F64(v) => acc.add(&v, batch),
    }
    Ok(())
}

enum Values {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// Streaming statistics of layer outputs: per layer the number of values, how many are
/// exactly zero and their sum; per channel the sum, sum of squares, maximum and whether any
/// value was ever positive. Memory does not grow with the number of images, so statistics
/// over a whole test set cost one pass.
///
/// Outputs must have shape `[N, C, ...]` (channels are dimension 1; for a 2-D `[N, F]`
/// output every feature is a channel). Dropping the value (or calling
/// [`finish`](ActivationStats::finish)) detaches its hook.
pub struct ActivationStats {
    state: Arc<Mutex<StatsState>>,
    handle: HookHandle,
}

impl std::fmt::Debug for ActivationStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = lock(&self.state);
        let layers: Vec<(&str, u64)> = state
            .layers
            .iter()
            .map(|(n, a)| (n.as_str(), a.images))
            .collect();
        f.debug_struct("ActivationStats")
            .field("layers", &layers)
            .field("hook", &self.handle)
            .finish()
    }
}

impl ActivationStats {
    /// Attaches a statistics collector to `layers` of the registry's model.
    pub fn attach(
        registry: &HookRegistry,
        layers: impl Into<LayerSelector>,
    ) -> Result<Self, HookError> {
        let state = Arc::new(Mutex::new(StatsState::default()));
        let hook_state = state.clone();
        let handle = registry.register_forward_hook(layers, move |layer, _input, output| {
            observe(&hook_state, layer, output)?;
            Ok(None)
        })?;
        Ok(ActivationStats { state, handle })
    }

    /// Adds a batch of `layer`'s output by hand (what the hook does for each forward pass).
    pub fn observe(&self, layer: &str, output: &Tensor) -> Result<(), HookError> {
        Ok(observe(&self.state, layer, output)?)
    }

    /// Statistics of `layer` so far; `None` if it has not run.
    pub fn layer(&self, layer: &str) -> Option<LayerStats> {
        lock(&self.state)
            .layers
            .iter()
            .find(|(n, _)| n == layer)
            .map(|(n, a)| a.stats(n))
    }

    /// Statistics of every layer seen so far, in the order the model ran them.
    pub fn layers(&self) -> Vec<LayerStats> {
        lock(&self.state)
            .layers
            .iter()
            .map(|(n, a)| a.stats(n))
            .collect()
    }

    /// Forgets everything seen; the hook stays attached.
    pub fn reset(&self) {
        lock(&self.state).layers.clear();
    }

    /// Detaches the hook and returns the statistics of every layer seen.
    pub fn finish(self) -> Vec<LayerStats> {
        let ActivationStats { state, handle } = self;
        handle.remove();
        let state = lock(&state);
        state.layers.iter().map(|(n, a)| a.stats(n)).collect()
    }
}
