//! [`PluginEvent`] and the publish/subscribe [`PluginEventBus`]. The dispatcher publishes
//! `TensorOp` only when somebody listens: with no subscriber the check is one atomic load.
//!
//! Note [Bus locks across plugin libraries]: a dynamic plugin (`declare_plugin!`) links its own
//! copy of st-core and of `parking_lot`, and calls methods of this bus on the host's data. The
//! bus therefore uses `std::sync` locks, whose state lives entirely in the lock word (a futex on
//! Linux), instead of `parking_lot`, whose contended path parks threads in a process-global table
//! that each library copy has separately. For the same reason the `TensorOp` listener counter of
//! the global bus is reached through a pointer stored in the bus, never through a static of
//! whichever copy runs the code.

use crate::device::Device;
use crate::op::OpId;
use crate::tensor::Tensor;
use smallvec::SmallVec;
use std::any::Any;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

/// An event on the plugin bus.
#[derive(Clone, Debug)]
pub enum PluginEvent {
    /// The plugin system started.
    SystemInit,
    /// The plugin system is shutting down.
    SystemShutdown,
    /// A plugin finished `on_load`.
    PluginLoaded {
        /// Plugin id.
        plugin_id: String,
    },
    /// A plugin was unloaded.
    PluginUnloaded {
        /// Plugin id.
        plugin_id: String,
    },
    /// One op ran through the dispatcher.
    TensorOp {
        /// Op name (`"add"`).
        op: &'static str,
        /// Backend name (`"cpu"`).
        backend: &'static str,
        /// Dispatch dtype name (`"f32"`).
        dtype: &'static str,
        /// Shapes of the inputs.
        input_shapes: Vec<Vec<usize>>,
        /// Shape of the output.
        output_shape: Vec<usize>,
        /// Kernel wall time in nanoseconds (asynchronous backends: launch time).
        duration_ns: u64,
    },
    /// A training epoch starts.
    EpochStart {
        /// Epoch index.
        epoch: usize,
    },
    /// A training epoch ended.
    EpochEnd {
        /// Epoch index.
        epoch: usize,
        /// Metrics by name (loss, accuracy, ...).
        metrics: BTreeMap<String, f64>,
    },
    /// The default device changed.
    BackendChanged {
        /// New backend (`"wgpu:0"`).
        backend: String,
    },
    /// A user-defined event.
    Custom {
        /// Event name used for subscription.
        event_type: String,
        /// Payload; downcast with `data.downcast_ref::<T>()`.
        data: Arc<dyn Any + Send + Sync>,
    },
}

impl PluginEvent {
    /// A custom event carrying `data`.
    pub fn custom<T: Any + Send + Sync>(event_type: impl Into<String>, data: T) -> PluginEvent {
        PluginEvent::Custom {
            event_type: event_type.into(),
            data: Arc::new(data),
        }
    }

    /// The name subscribers use: the variant name, or `event_type` for custom events.
    pub fn name(&self) -> &str {
        match self {
            PluginEvent::SystemInit => "SystemInit",
            PluginEvent::SystemShutdown => "SystemShutdown",
            PluginEvent::PluginLoaded { .. } => "PluginLoaded",
            PluginEvent::PluginUnloaded { .. } => "PluginUnloaded",
            PluginEvent::TensorOp { .. } => "TensorOp",
            PluginEvent::EpochStart { .. } => "EpochStart",
            PluginEvent::EpochEnd { .. } => "EpochEnd",
            PluginEvent::BackendChanged { .. } => "BackendChanged",
            PluginEvent::Custom { event_type, .. } => event_type,
        }
    }

    /// The payload of a custom event as `T`, if this is one and the type matches.
    pub fn custom_data<T: Any>(&self) -> Option<&T> {
        match self {
            PluginEvent::Custom { data, .. } => data.downcast_ref::<T>(),
            _ => None,
        }
    }
}

/// A subscriber callback.
pub type EventCallback = Arc<dyn Fn(&PluginEvent) + Send + Sync>;

/// Handle returned by [`PluginEventBus::subscribe`], for unsubscribing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubscriptionId(u64);

/// Which events a subscription receives.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Filter {
    /// Events whose [`PluginEvent::name`] equals the string.
    Name(String),
    /// Every event (`"*"`).
    All,
    /// Every event except `TensorOp`; does not make the dispatcher publish.
    AllButTensorOp,
}

impl Filter {
    fn from_pattern(pattern: &str) -> Filter {
        if pattern == "*" {
            Filter::All
        } else {
            Filter::Name(pattern.to_string())
        }
    }

    fn matches(&self, name: &str, is_tensor_op: bool) -> bool {
        match self {
            Filter::Name(n) => n == name,
            Filter::All => true,
            Filter::AllButTensorOp => !is_tensor_op,
        }
    }

    fn hears_tensor_op(&self) -> bool {
        match self {
            Filter::Name(n) => n == "TensorOp",
            Filter::All => true,
            Filter::AllButTensorOp => false,
        }
    }
}

struct Subscriber {
    id: SubscriptionId,
    filter: Filter,
    callback: EventCallback,
}

/// Where a bus counts its `TensorOp` listeners (see Note [Bus locks across plugin libraries]).
enum Counter {
    /// The global bus counts into the host's static, which the dispatcher reads.
    Static(&'static AtomicUsize),
    /// Any other bus counts into its own field.
    Owned(AtomicUsize),
}

impl Counter {
    #[inline]
    fn get(&self) -> &AtomicUsize {
        match self {
            Counter::Static(c) => c,
            Counter::Owned(c) => c,
        }
    }
}

struct BusInner {
    subscribers: RwLock<Vec<Subscriber>>,
    next_id: AtomicU64,
    tensor_op_listeners: Counter,
    /// Publishes running right now (on any thread).
    in_flight: AtomicUsize,
}

thread_local! {
    /// Publishes running on this thread (nested when a callback publishes).
    static PUBLISH_DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Counts a publish as in flight until dropped (also when a callback unwinds).
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        PUBLISH_DEPTH.with(|d| d.set(d.get() + 1));
        InFlight(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        PUBLISH_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Publish/subscribe bus. Cloning gives another handle to the same bus.
#[derive(Clone)]
pub struct PluginEventBus {
    inner: Arc<BusInner>,
}

impl Default for PluginEventBus {
    fn default() -> Self {
        Self::with_counter(Counter::Owned(AtomicUsize::new(0)))
    }
}

impl std::fmt::Debug for PluginEventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEventBus")
            .field("subscribers", &self.subscriber_count())
            .field(
                "tensor_op_listeners",
                &self.inner.tensor_op_listeners.get().load(Ordering::Relaxed),
            )
            .finish()
    }
}

impl PluginEventBus {
    /// A new, empty bus (independent of the global one).
    pub fn new() -> Self {
        Self::default()
    }

    fn with_counter(counter: Counter) -> Self {
        PluginEventBus {
            inner: Arc::new(BusInner {
                subscribers: RwLock::new(Vec::new()),
                next_id: AtomicU64::new(0),
                tensor_op_listeners: counter,
                in_flight: AtomicUsize::new(0),
            }),
        }
    }

    /// Subscribes `callback` to events named `pattern` (`"*"` for all). Subscribing to
    /// `"TensorOp"` or `"*"` on the global bus makes the dispatcher time and publish every op.
    pub fn subscribe(&self, pattern: &str, callback: EventCallback) -> SubscriptionId {
        self.add(Filter::from_pattern(pattern), callback)
    }

    /// Subscribes `callback` to every event except `TensorOp`. Unlike `"*"`, this does not make
    /// the dispatcher publish op events; the plugin registry uses it to feed `on_event`.
    pub fn subscribe_all_but_tensor_op(&self, callback: EventCallback) -> SubscriptionId {
        self.add(Filter::AllButTensorOp, callback)
    }

    fn add(&self, filter: Filter, callback: EventCallback) -> SubscriptionId {
        let id = SubscriptionId(self.inner.next_id.fetch_add(1, Ordering::Relaxed));
        let mut subs = self
            .inner
            .subscribers
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if filter.hears_tensor_op() {
            self.inner
                .tensor_op_listeners
                .get()
                .fetch_add(1, Ordering::Release);
        }
        subs.push(Subscriber {
            id,
            filter,
            callback,
        });
        id
    }

    /// Removes a subscription; returns whether it existed.
    pub fn unsubscribe(&self, id: SubscriptionId) -> bool {
        let mut subs = self
            .inner
            .subscribers
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let Some(pos) = subs.iter().position(|s| s.id == id) else {
            return false;
        };
        let s = subs.remove(pos);
        if s.filter.hears_tensor_op() {
            self.inner
                .tensor_op_listeners
                .get()
                .fetch_sub(1, Ordering::Release);
        }
        true
    }

    /// Number of subscriptions.
    pub fn subscriber_count(&self) -> usize {
        self.inner
            .subscribers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// True when some subscriber would receive a `TensorOp` event (one atomic load).
    #[inline]
    pub fn has_tensor_op_listeners(&self) -> bool {
        self.inner.tensor_op_listeners.get().load(Ordering::Acquire) != 0
    }

    /// Delivers `event` to every matching subscriber, in subscription order. The subscriber list
    /// is not locked while callbacks run, so a callback may publish, subscribe or unsubscribe. A
    /// panicking callback is contained and reported on stderr; the others still run.
    /// (Callbacks registered through a `PluginContext` additionally mark their plugin failed.)
    pub fn publish(&self, event: &PluginEvent) {
        let _in_flight = InFlight::enter(&self.inner.in_flight);
        let name = event.name();
        let is_tensor_op = matches!(event, PluginEvent::TensorOp { .. });
        let callbacks: SmallVec<[EventCallback; 8]> = self
            .inner
            .subscribers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|s| s.filter.matches(name, is_tensor_op))
            .map(|s| s.callback.clone())
            .collect();
        for cb in callbacks {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(event)));
            if let Err(p) = r {
                eprintln!(
                    "spiraltorch: event subscriber panicked on {name}: {}",
                    panic_message(&p)
                );
            }
        }
    }
}

impl PluginEventBus {
    /// Waits (up to `timeout`) until no publish is running on another thread, so that callbacks
    /// already removed with [`PluginEventBus::unsubscribe`] are no longer executing or referenced.
    /// Publishes of the calling thread are not waited for. Returns whether the bus went idle.
    /// The registry calls this before closing a dynamic plugin's library.
    pub fn wait_until_idle(&self, timeout: Duration) -> bool {
        let own = PUBLISH_DEPTH.with(|d| d.get());
        let start = std::time::Instant::now();
        while self.inner.in_flight.load(Ordering::Acquire) > own {
            if start.elapsed() > timeout {
                return false;
            }
            std::thread::yield_now();
        }
        true
    }
}

/// Text of a caught panic payload.
pub fn panic_message(p: &Box<dyn Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// `TensorOp` listeners of the global bus; the dispatcher reads only this.
static GLOBAL_TENSOR_OP_LISTENERS: AtomicUsize = AtomicUsize::new(0);
static GLOBAL_BUS: OnceLock<PluginEventBus> = OnceLock::new();

/// The process-wide bus that the dispatcher and trainer publish on.
pub fn global_event_bus() -> &'static PluginEventBus {
    GLOBAL_BUS
        .get_or_init(|| PluginEventBus::with_counter(Counter::Static(&GLOBAL_TENSOR_OP_LISTENERS)))
}

/// Whether the dispatcher should time and publish ops: one relaxed atomic load.
#[cfg(feature = "op-events")]
#[inline]
pub(crate) fn tensor_op_listened() -> bool {
    GLOBAL_TENSOR_OP_LISTENERS.load(Ordering::Relaxed) != 0
}

/// Built without the `op-events` feature: the dispatcher never publishes `TensorOp`, and the
/// check folds to a constant.
#[cfg(not(feature = "op-events"))]
#[inline(always)]
pub(crate) const fn tensor_op_listened() -> bool {
    false
}

/// Whether this build publishes `TensorOp` events from the dispatcher (cargo feature
/// `op-events`, on by default). Without it, subscribing to `"TensorOp"` is allowed but never
/// fires; every other event is unaffected.
pub const OP_EVENTS_ENABLED: bool = cfg!(feature = "op-events");

#[cold]
#[inline(never)]
pub(crate) fn publish_tensor_op(
    op: OpId,
    device: Device,
    inputs: &[&Tensor],
    out: &Tensor,
    elapsed: Duration,
) {
    let event = PluginEvent::TensorOp {
        op: op.name(),
        backend: device.backend().name(),
        dtype: inputs
            .first()
            .map(|t| t.dtype())
            .unwrap_or(out.dtype())
            .as_str(),
        input_shapes: inputs.iter().map(|t| t.dims().to_vec()).collect(),
        output_shape: out.dims().to_vec(),
        duration_ns: elapsed.as_nanos() as u64,
    };
    global_event_bus().publish(&event);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn filters_and_listener_count() {
        let bus = PluginEventBus::new();
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let lifecycle = bus.subscribe_all_but_tensor_op(Arc::new(move |_| {
            h.fetch_add(1, Ordering::SeqCst);
        }));
        assert!(!bus.has_tensor_op_listeners());
        let op = PluginEvent::TensorOp {
            op: "add",
            backend: "cpu",
            dtype: "f32",
            input_shapes: vec![vec![1]],
            output_shape: vec![1],
            duration_ns: 1,
        };
        bus.publish(&op);
        bus.publish(&PluginEvent::SystemInit);
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        let star = bus.subscribe("*", Arc::new(|_| {}));
        assert!(bus.has_tensor_op_listeners());
        assert!(bus.unsubscribe(star));
        assert!(!bus.has_tensor_op_listeners());
        assert!(!bus.unsubscribe(star));
        assert!(bus.unsubscribe(lifecycle));
        assert_eq!(bus.subscriber_count(), 0);
    }
}
