//! The hook registry: which hooks run on which layer, and the handles that remove them.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use candle_core::{Result, Tensor};

use crate::error::HookError;
use crate::probe::GradientProbe;

/// A forward hook: `(layer, input, output)`; returning `Some(t)` replaces the output.
pub(crate) type ForwardFn = dyn FnMut(&str, &Tensor, &Tensor) -> Result<Option<Tensor>> + Send;
/// A forward pre-hook: `(layer, input)`; returning `Some(t)` replaces the input.
pub(crate) type PreFn = dyn FnMut(&str, &Tensor) -> Result<Option<Tensor>> + Send;
/// A gradient hook: `(layer, d loss / d output)`, called during `backward`.
pub(crate) type GradientFn = dyn FnMut(&str, &Tensor) -> Result<()> + Send;

/// Which layers a hook is attached to.
///
/// Built from a layer name (`"conv1".into()`), from several names
/// (`["conv1", "conv2"].into()`), or [`LayerSelector::All`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayerSelector {
    /// Every layer the model runs through the registry.
    All,
    /// One layer, by name.
    Layer(String),
    /// Several layers, by name.
    Layers(Vec<String>),
}

impl LayerSelector {
    /// Whether the selector includes `layer`.
    pub fn matches(&self, layer: &str) -> bool {
        match self {
            LayerSelector::All => true,
            LayerSelector::Layer(name) => name == layer,
            LayerSelector::Layers(names) => names.iter().any(|n| n == layer),
        }
    }

    fn names(&self) -> &[String] {
        match self {
            LayerSelector::All => &[],
            LayerSelector::Layer(name) => std::slice::from_ref(name),
            LayerSelector::Layers(names) => names,
        }
    }
}

impl From<&str> for LayerSelector {
    fn from(name: &str) -> Self {
        LayerSelector::Layer(name.to_string())
    }
}

impl From<String> for LayerSelector {
    fn from(name: String) -> Self {
        LayerSelector::Layer(name)
    }
}

impl From<&[&str]> for LayerSelector {
    fn from(names: &[&str]) -> Self {
        LayerSelector::Layers(names.iter().map(|n| n.to_string()).collect())
    }
}

impl<const N: usize> From<[&str; N]> for LayerSelector {
    fn from(names: [&str; N]) -> Self {
        LayerSelector::Layers(names.iter().map(|n| n.to_string()).collect())
    }
}

impl From<Vec<String>> for LayerSelector {
    fn from(names: Vec<String>) -> Self {
        LayerSelector::Layers(names)
    }
}

pub(crate) enum HookFn {
    Pre(Box<PreFn>),
    Forward(Box<ForwardFn>),
    Gradient(Box<GradientFn>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pre,
    Forward,
    Gradient,
}

/// A hook as stored in the registry and as captured by a running layer.
///
/// `active` is checked immediately before every call, so a hook removed while a forward pass
/// (or a backward pass through a probe) is under way does not run again.
#[derive(Clone)]
pub(crate) struct LiveHook {
    pub(crate) active: Arc<AtomicBool>,
    pub(crate) hook: Arc<Mutex<HookFn>>,
}

impl LiveHook {
    pub(crate) fn lock(&self, layer: &str) -> Result<MutexGuard<'_, HookFn>> {
        self.hook.lock().map_err(|_| {
            candle_core::Error::Msg(format!(
                "a hook on layer '{layer}' panicked in an earlier call and cannot run again"
            ))
        })
    }
}

struct Entry {
    id: u64,
    kind: Kind,
    selector: LayerSelector,
    live: LiveHook,
}

struct Inner {
    known_layers: Option<Vec<String>>,
    entries: Mutex<Vec<Entry>>,
    /// Number of registered hooks; read without locking on every layer call.
    count: AtomicUsize,
    next_id: AtomicU64,
}

impl Inner {
    fn entries(&self) -> MutexGuard<'_, Vec<Entry>> {
        // The list is only pushed to and filtered; a panic elsewhere cannot leave it half-edited.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn remove(&self, id: u64) {
        let mut entries = self.entries();
        let before = entries.len();
        entries.retain(|e| {
            if e.id == id {
                e.live.active.store(false, Ordering::SeqCst);
                false
            } else {
                true
            }
        });
        let removed = before - entries.len();
        self.count.fetch_sub(removed, Ordering::SeqCst);
    }
}

/// The set of hooks a model consults while it runs its named layers.
///
/// A model calls [`HookRegistry::run_layer`] for every layer; the registry runs the matching
/// pre-hooks, the layer, the matching forward hooks, and — if a gradient hook matches — wraps
/// the output in a probe whose backward pass reports the output's gradient.
///
/// With no hook registered, `run_layer` is one atomic load and a direct call of the layer.
///
/// Cloning a registry gives a second reference to the same hooks.
#[derive(Clone)]
pub struct HookRegistry {
    inner: Arc<Inner>,
}

impl Default for HookRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for HookRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookRegistry")
            .field("hooks", &self.len())
            .field("known_layers", &self.inner.known_layers)
            .finish()
    }
}

impl HookRegistry {
    /// A registry that accepts hooks for any layer name.
    pub fn new() -> Self {
        Self::build(None)
    }

    /// A registry for a model with exactly these layers: registering a hook for any other
    /// name fails with [`HookError::UnknownLayer`] instead of silently never firing.
    pub fn with_layers<S: AsRef<str>>(layers: &[S]) -> Self {
        Self::build(Some(
            layers.iter().map(|l| l.as_ref().to_string()).collect(),
        ))
    }

    fn build(known_layers: Option<Vec<String>>) -> Self {
        HookRegistry {
            inner: Arc::new(Inner {
                known_layers,
                entries: Mutex::new(Vec::new()),
                count: AtomicUsize::new(0),
                next_id: AtomicU64::new(0),
            }),
        }
    }

    /// The layer names given to [`HookRegistry::with_layers`], if any.
    pub fn known_layers(&self) -> Option<&[String]> {
        self.inner.known_layers.as_deref()
    }

    /// Number of hooks currently registered (of all kinds).
    pub fn len(&self) -> usize {
        self.inner.count.load(Ordering::SeqCst)
    }

    /// Whether no hook is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every hook. Handles of removed hooks become inert.
    pub fn clear(&self) {
        let mut entries = self.inner.entries();
        for e in entries.iter() {
            e.live.active.store(false, Ordering::SeqCst);
        }
        let removed = entries.len();
        entries.clear();
        self.inner.count.fetch_sub(removed, Ordering::SeqCst);
    }

    /// Registers a forward hook, called after the layer as `hook(layer, input, output)`.
    ///
    /// Returning `Ok(Some(t))` replaces the layer's output with `t` (later hooks and later
    /// layers see `t`); `Ok(None)` leaves it unchanged; an error aborts the forward pass.
    /// Hooks on the same layer run in registration order.
    pub fn register_forward_hook<F>(
        &self,
        layers: impl Into<LayerSelector>,
        hook: F,
    ) -> std::result::Result<HookHandle, HookError>
    where
        F: FnMut(&str, &Tensor, &Tensor) -> Result<Option<Tensor>> + Send + 'static,
    {
        self.register(
            layers.into(),
            Kind::Forward,
            HookFn::Forward(Box::new(hook)),
        )
    }

    /// Registers a forward pre-hook, called before the layer as `hook(layer, input)`.
    ///
    /// Returning `Ok(Some(t))` makes the layer (and later pre-hooks and the forward hooks)
    /// see `t` as its input.
    pub fn register_forward_pre_hook<F>(
        &self,
        layers: impl Into<LayerSelector>,
        hook: F,
    ) -> std::result::Result<HookHandle, HookError>
    where
        F: FnMut(&str, &Tensor) -> Result<Option<Tensor>> + Send + 'static,
    {
        self.register(layers.into(), Kind::Pre, HookFn::Pre(Box::new(hook)))
    }

    /// Registers a gradient hook, called during `backward` as `hook(layer, grad)` with the
    /// gradient of the loss with respect to the layer's output (after any output replacement).
    ///
    /// The hook only fires for forward passes run while it is registered, and only if the
    /// layer's output depends on a tracked variable (otherwise candle computes no gradient
    /// for it). [`crate::GradientCapture`] is the ready-made "keep the latest gradient" hook.
    pub fn register_gradient_hook<F>(
        &self,
        layers: impl Into<LayerSelector>,
        hook: F,
    ) -> std::result::Result<HookHandle, HookError>
    where
        F: FnMut(&str, &Tensor) -> Result<()> + Send + 'static,
    {
        self.register(
            layers.into(),
            Kind::Gradient,
            HookFn::Gradient(Box::new(hook)),
        )
    }

    fn register(
        &self,
        selector: LayerSelector,
        kind: Kind,
        hook: HookFn,
    ) -> std::result::Result<HookHandle, HookError> {
        if let Some(known) = &self.inner.known_layers {
            if let Some(unknown) = selector.names().iter().find(|n| !known.contains(n)) {
                return Err(HookError::UnknownLayer {
                    layer: unknown.clone(),
                    known: known.join(", "),
                });
            }
        }
        if let LayerSelector::Layers(names) = &selector {
            if names.is_empty() {
                return Err(HookError::EmptySelector);
            }
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::SeqCst);
        let live = LiveHook {
            active: Arc::new(AtomicBool::new(true)),
            hook: Arc::new(Mutex::new(hook)),
        };
        let handle = HookHandle {
            registry: Arc::downgrade(&self.inner),
            id,
            active: live.active.clone(),
            selector: selector.clone(),
        };
        let mut entries = self.inner.entries();
        entries.push(Entry {
            id,
            kind,
            selector,
            live,
        });
        self.inner.count.fetch_add(1, Ordering::SeqCst);
        Ok(handle)
    }

    /// Runs one named layer `f` on `input` with the registered hooks.
    ///
    /// This is what a model calls for each layer in its hooked forward pass:
    /// `x = hooks.run_layer("conv1", &x, |x| conv1.forward(x))?`. When the registry is empty
    /// this is `f(input)` after one atomic load.
    pub fn run_layer<F>(&self, layer: &str, input: &Tensor, f: F) -> Result<Tensor>
    where
        F: FnOnce(&Tensor) -> Result<Tensor>,
    {
        if self.inner.count.load(Ordering::Relaxed) == 0 {
            return f(input);
        }
        let (pre, forward, gradient) = self.matching(layer);

        let mut input = Cow::Borrowed(input);
        for hook in &pre {
            if !hook.active.load(Ordering::SeqCst) {
                continue;
            }
            let mut guard = hook.lock(layer)?;
            if let HookFn::Pre(f) = &mut *guard {
                if let Some(replacement) = f(layer, &input)? {
                    input = Cow::Owned(replacement);
                }
            }
        }

        let mut output = f(&input)?;
        for hook in &forward {
            if !hook.active.load(Ordering::SeqCst) {
                continue;
            }
            let mut guard = hook.lock(layer)?;
            if let HookFn::Forward(f) = &mut *guard {
                if let Some(replacement) = f(layer, &input, &output)? {
                    output = replacement;
                }
            }
        }

        if !gradient.is_empty() {
            output = output.apply_op1(GradientProbe::new(layer, gradient))?;
        }
        Ok(output)
    }

    /// Snapshot of the hooks matching `layer`, so no lock is held while hooks run (a hook may
    /// register or remove hooks).
    fn matching(&self, layer: &str) -> (Vec<LiveHook>, Vec<LiveHook>, Vec<LiveHook>) {
        let entries = self.inner.entries();
        let (mut pre, mut forward, mut gradient) = (Vec::new(), Vec::new(), Vec::new());
        for e in entries.iter().filter(|e| e.selector.matches(layer)) {
            match e.kind {
                Kind::Pre => pre.push(e.live.clone()),
                Kind::Forward => forward.push(e.live.clone()),
                Kind::Gradient => gradient.push(e.live.clone()),
            }
        }
        (pre, forward, gradient)
    }
}

/// Keeps a hook registered; dropping or [`remove`](HookHandle::remove)-ing it detaches the hook.
///
/// Drop semantics: **dropping the handle removes the hook.** A hook therefore lives exactly as
/// long as its handle, which is what prevents hooks from staying attached by accident. A hook
/// removed during a forward or backward pass does not run again, not even for the layers that
/// pass has still to reach. Handles outliving their registry are inert.
#[must_use = "dropping a HookHandle removes its hook immediately"]
pub struct HookHandle {
    registry: Weak<Inner>,
    id: u64,
    active: Arc<AtomicBool>,
    selector: LayerSelector,
}

impl fmt::Debug for HookHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookHandle")
            .field("id", &self.id)
            .field("layers", &self.selector)
            .field("active", &self.is_active())
            .finish()
    }
}

impl HookHandle {
    /// Removes the hook (the same as dropping the handle, spelled out).
    pub fn remove(self) {
        drop(self)
    }

    /// Whether the hook is still registered (false after [`HookRegistry::clear`] and once the
    /// registry is gone).
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::SeqCst) && self.registry.strong_count() > 0
    }

    /// The layers this hook is attached to.
    pub fn layers(&self) -> &LayerSelector {
        &self.selector
    }
}

impl Drop for HookHandle {
    fn drop(&mut self) {
        self.active.store(false, Ordering::SeqCst);
        if let Some(inner) = self.registry.upgrade() {
            inner.remove(self.id);
        }
    }
}
