//! Recording layer outputs across batches, up to a fixed number of images.

use std::sync::{Arc, Mutex, MutexGuard};

use candle_core::Tensor;

use crate::error::HookError;
use crate::registry::{HookHandle, HookRegistry, LayerSelector};

#[derive(Default)]
struct LayerRecord {
    chunks: Vec<Tensor>,
    images: usize,
}

#[derive(Default)]
struct RecorderState {
    /// Layer names in the order they were first seen, with their records.
    layers: Vec<(String, LayerRecord)>,
}

impl RecorderState {
    fn record(
        &mut self,
        layer: &str,
        output: &Tensor,
        max_images: usize,
    ) -> candle_core::Result<()> {
        let index = match self.layers.iter().position(|(name, _)| name == layer) {
            Some(i) => i,
            None => {
                self.layers
                    .push((layer.to_string(), LayerRecord::default()));
                self.layers.len() - 1
            }
        };
        let record = &mut self.layers[index].1;
        if record.images >= max_images {
            return Ok(());
        }
        let dims = output.dims();
        let Some(&batch) = dims.first() else {
            return Err(candle_core::Error::Msg(format!(
                "cannot record layer '{layer}': its output is a scalar, not a batch"
            )));
        };
        if let Some(first) = record.chunks.first() {
            if first.dims()[1..] != dims[1..] {
                return Err(candle_core::Error::Msg(format!(
                    "cannot record layer '{layer}': this batch's output has per-image shape {:?}, \
                     earlier batches had {:?}",
                    &dims[1..],
                    &first.dims()[1..]
                )));
            }
        }
        let take = batch.min(max_images - record.images);
        if take == 0 {
            return Ok(());
        }
        // A compact copy: a view would keep the whole batch (and, before detaching, the
        // graph behind it) alive.
        let kept = output.narrow(0, 0, take)?.force_contiguous()?.detach();
        record.chunks.push(kept);
        record.images += take;
        Ok(())
    }
}

/// Records detached copies of layer outputs, concatenated across batches along the batch
/// dimension, keeping at most `max_images` images per layer.
///
/// The recorder owns its hook: dropping the recorder (or calling
/// [`finish`](ActivationRecorder::finish)) detaches it, so nothing stays attached by
/// accident. Once every recorded layer holds `max_images` images the hook copies nothing
/// more, so leaving it attached over a whole dataset costs neither memory nor copies.
pub struct ActivationRecorder {
    state: Arc<Mutex<RecorderState>>,
    max_images: usize,
    handle: HookHandle,
}

impl std::fmt::Debug for ActivationRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        let layers: Vec<(&str, usize)> = state
            .layers
            .iter()
            .map(|(name, rec)| (name.as_str(), rec.images))
            .collect();
        f.debug_struct("ActivationRecorder")
            .field("max_images", &self.max_images)
            .field("layers", &layers)
            .field("hook", &self.handle)
            .finish()
    }
}

fn lock(state: &Mutex<RecorderState>) -> MutexGuard<'_, RecorderState> {
    // Records are only appended after all checks passed; a poisoned lock holds consistent data.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl ActivationRecorder {
    /// Attaches a recorder to `layers` of the registry's model.
    ///
    /// Fails if `max_images` is 0 or a layer name is unknown to the registry.
    pub fn attach(
        registry: &HookRegistry,
        layers: impl Into<LayerSelector>,
        max_images: usize,
    ) -> Result<Self, HookError> {
        if max_images == 0 {
            return Err(HookError::InvalidLimit(max_images));
        }
        let state = Arc::new(Mutex::new(RecorderState::default()));
        let hook_state = state.clone();
        let handle = registry.register_forward_hook(layers, move |layer, _input, output| {
            lock(&hook_state).record(layer, output, max_images)?;
            Ok(None)
        })?;
        Ok(ActivationRecorder {
            state,
            max_images,
            handle,
        })
    }

    fn state(&self) -> MutexGuard<'_, RecorderState> {
        lock(&self.state)
    }

    /// The most images kept per layer.
    pub fn max_images(&self) -> usize {
        self.max_images
    }

    /// The layers recorded so far, in the order the model ran them.
    pub fn layers(&self) -> Vec<String> {
        self.state().layers.iter().map(|(n, _)| n.clone()).collect()
    }

    /// How many images of `layer` are recorded (0 for a layer not seen yet).
    pub fn images(&self, layer: &str) -> usize {
        self.state()
            .layers
            .iter()
            .find(|(n, _)| n == layer)
            .map_or(0, |(_, r)| r.images)
    }

    /// Whether at least one layer was recorded and every recorded layer holds `max_images`
    /// images — the moment to stop feeding batches.
    pub fn is_full(&self) -> bool {
        let state = self.state();
        !state.layers.is_empty()
            && state
                .layers
                .iter()
                .all(|(_, r)| r.images >= self.max_images)
    }

    /// The recorded outputs of `layer`, concatenated: shape `[images, ...]`.
    /// `None` if the layer has not run yet.
    pub fn get(&self, layer: &str) -> Result<Option<Tensor>, HookError> {
        let mut state = self.state();
        let Some((_, record)) = state.layers.iter_mut().find(|(n, _)| n == layer) else {
            return Ok(None);
        };
        concatenate(record)
    }

    /// Forgets everything recorded; the hook stays attached.
    pub fn clear(&self) {
        self.state().layers.clear();
    }

    /// Detaches the hook and returns every recorded layer's outputs, in the order the model
    /// ran the layers.
    pub fn finish(self) -> Result<Vec<(String, Tensor)>, HookError> {
        let ActivationRecorder { state, handle, .. } = self;
        handle.remove();
        let mut state = lock(&state);
        let mut out = Vec::with_capacity(state.layers.len());
        for (name, record) in state.layers.iter_mut() {
            if let Some(t) = concatenate(record)? {
                out.push((name.clone(), t));
            }
        }
        Ok(out)
    }
}

/// Concatenates the chunks once and keeps the result, so repeated reads cost nothing.
fn concatenate(record: &mut LayerRecord) -> Result<Option<Tensor>, HookError> {
    if record.chunks.len() > 1 {
        let all = Tensor::cat(&record.chunks, 0)?;
        record.chunks = vec![all];
    }
    Ok(record.chunks.first().cloned())
}
