//! [`PluginEvent`] and the publish/subscribe [`PluginEventBus`]. The dispatcher publishes
//! `TensorOp` only when somebody listens: with no subscriber the check is one atomic load.

use crate::device::Device;
use crate::op::OpId;
use crate::tensor::Tensor;
use parking_lot::RwLock;
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
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
        PluginEvent::Custom { event_type: event_type.into(), data: Arc::new(data) }
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
}

/// A subscriber callback.
pub type EventCallback = Arc<dyn Fn(&PluginEvent) + Send + Sync>;

/// Handle returned by [`PluginEventBus::subscribe`], for unsubscribing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubscriptionId(u64);

struct Subscriber {
    id: SubscriptionId,
    pattern: String,
    callback: EventCallback,
}

#[derive(Default)]
struct BusInner {
    subscribers: RwLock<Vec<Subscriber>>,
    next_id: AtomicU64,
    /// Subscribers whose pattern matches `TensorOp` (the pattern is `TensorOp` or `*`).
    tensor_op_listeners: AtomicUsize,
}

/// Publish/subscribe bus. Cloning gives another handle to the same bus.
#[derive(Clone, Default)]
pub struct PluginEventBus {
    inner: Arc<BusInner>,
}

impl PluginEventBus {
    /// A new, empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    /// Subscribes `callback` to events named `pattern` (`"*"` for all).
    pub fn subscribe(&self, pattern: &str, callback: EventCallback) -> SubscriptionId {
        let id = SubscriptionId(self.inner.next_id.fetch_add(1, Ordering::Relaxed));
        if pattern == "TensorOp" || pattern == "*" {
            self.inner.tensor_op_listeners.fetch_add(1, Ordering::Release);
        }
        self.inner.subscribers.write().push(Subscriber { id, pattern: pattern.into(), callback });
        id
    }

    /// Removes a subscription; returns whether it existed.
    pub fn unsubscribe(&self, id: SubscriptionId) -> bool {
        let mut subs = self.inner.subscribers.write();
        let Some(pos) = subs.iter().position(|s| s.id == id) else { return false };
        let s = subs.remove(pos);
        if s.pattern == "TensorOp" || s.pattern == "*" {
            self.inner.tensor_op_listeners.fetch_sub(1, Ordering::Release);
        }
        true
    }

    /// Number of subscriptions.
    pub fn subscriber_count(&self) -> usize {
        self.inner.subscribers.read().len()
    }

    /// True when some subscriber would receive a `TensorOp` event (one atomic load).
    #[inline]
    pub fn has_tensor_op_listeners(&self) -> bool {
        self.inner.tensor_op_listeners.load(Ordering::Acquire) != 0
    }

    /// Delivers `event` to every matching subscriber. A panicking subscriber is contained and
    /// reported on stderr; the others still run.
    pub fn publish(&self, event: &PluginEvent) {
        let name = event.name();
        let callbacks: Vec<EventCallback> = self
            .inner
            .subscribers
            .read()
            .iter()
            .filter(|s| s.pattern == "*" || s.pattern == name)
            .map(|s| s.callback.clone())
            .collect();
        for cb in callbacks {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(event)));
            if let Err(p) = r {
                eprintln!("spiraltorch: event subscriber panicked on {name}: {}", panic_message(&p));
            }
        }
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

static GLOBAL_BUS: OnceLock<PluginEventBus> = OnceLock::new();

/// The process-wide bus that the dispatcher and trainer publish on.
pub fn global_event_bus() -> &'static PluginEventBus {
    GLOBAL_BUS.get_or_init(PluginEventBus::new)
}

/// Whether the dispatcher should time and publish ops.
#[inline]
pub(crate) fn tensor_op_listened() -> bool {
    match GLOBAL_BUS.get() {
        Some(bus) => bus.has_tensor_op_listeners(),
        None => false,
    }
}

#[cold]
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
        dtype: inputs.first().map(|t| t.dtype()).unwrap_or(out.dtype()).as_str(),
        input_shapes: inputs.iter().map(|t| t.dims().to_vec()).collect(),
        output_shape: out.dims().to_vec(),
        duration_ns: elapsed.as_nanos() as u64,
    };
    global_event_bus().publish(&event);
}
