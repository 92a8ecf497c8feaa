//! [`PluginEvent`] and the publish/subscribe [`PluginEventBus`]. The dispatcher publishes
//! `TensorOp` only when somebody listens: with no subscriber the check is one atomic load.
//!
//! Delivery order, re-entrancy, the publish depth limit and fault reporting are described in
//! Note [Run-to-completion delivery], and the lifetime of plugin libraries in
//! Note [Keeping plugin libraries mapped], both in `plugin/bus.rs`, which holds the engine.
//!
//! Note [Bus locks across plugin libraries]: a dynamic plugin (`declare_plugin!`) links its own
//! copy of st-core and of `parking_lot`, and calls methods of this bus on the host's data. A bus
//! handle therefore reaches its engine through a trait object made by the bus's creator (the
//! host), so that publishing from a plugin runs the host's code, with the host's thread-local
//! delivery queue, and not the plugin's copy. The engine's locks are `std::sync` ones, whose
//! state lives entirely in the lock word (a futex on Linux), instead of `parking_lot`, whose
//! contended path parks threads in a process-global table that each library copy has separately.
//! For the same reason the `TensorOp` listener counter of the global bus is reached through a
//! pointer stored in the bus, never through a static of whichever copy runs the code. Only
//! wrapping a subscriber's callback runs in the caller's copy, on purpose (see `contain`).

use super::bus_core::{BusCore, Counter, Filter, Handler, HostBus};
use super::owner::Owner;
use std::any::Any;
use std::collections::BTreeMap;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, OnceLock};

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
    /// A training batch ended (the trainer publishes one per optimizer step).
    BatchEnd {
        /// Epoch index.
        epoch: usize,
        /// Batch index within the epoch.
        batch: usize,
        /// Metrics by name (loss, samples, ...).
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
            PluginEvent::BatchEnd { .. } => "BatchEnd",
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
pub struct SubscriptionId(pub(crate) u64);

/// Name of the custom event carrying a [`PluginFault`] (subscribe to it to see contained faults).
pub const FAULT_EVENT: &str = "plugin.fault";

/// How deep events may nest: an event published while delivering one of depth `d` has depth
/// `d + 1` (a top-level publish has depth 0); one deeper than this is dropped and reported as a
/// [`FaultKind::DepthExceeded`] fault.
pub const MAX_PUBLISH_DEPTH: usize = 32;

/// What kind of fault the bus contained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// A subscriber (or `on_event`) panicked; it was unsubscribed, and its plugin marked failed.
    SubscriberPanicked,
    /// An event was dropped because it nested deeper than [`MAX_PUBLISH_DEPTH`].
    DepthExceeded,
}

/// A fault the bus contained, delivered as the custom event [`FAULT_EVENT`] (and written to
/// stderr). Faults arising while a fault event is delivered go to stderr only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginFault {
    /// What happened.
    pub kind: FaultKind,
    /// The plugin at fault, when the subscription or publishing handle belongs to one.
    pub plugin: Option<String>,
    /// Name of the event being delivered or published.
    pub event: String,
    /// Details.
    pub reason: String,
}

impl std::fmt::Display for PluginFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.plugin {
            Some(p) => write!(f, "plugin {p}, event {}: {}", self.event, self.reason),
            None => write!(f, "event {}: {}", self.event, self.reason),
        }
    }
}

/// Publish/subscribe bus. Cloning gives another handle to the same bus.
///
/// Delivery is run-to-completion per thread (Note [Run-to-completion delivery] in
/// `plugin/bus.rs`): an event published from inside a subscriber, an `on_event` hook or an op run
/// by one is queued and delivered on the same thread right after the current delivery finishes,
/// in publish order; so `publish` called from a handler returns before the event is delivered.
///
/// The handle a plugin gets in its [`PluginContext`](crate::plugin::PluginContext) is tagged with
/// the plugin: subscriptions made through it (or a clone of it) belong to the plugin, are removed
/// when it unloads or fails, and keep a dynamic plugin's library mapped while they exist.
#[derive(Clone)]
pub struct PluginEventBus {
    core: Arc<dyn BusCore>,
    owner: Option<Arc<Owner>>,
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
            .field("tensor_op_listeners", &self.has_tensor_op_listeners())
            .field("plugin", &self.owner.as_deref().map(|o| o.id.as_str()))
            .finish()
    }
}

/// A callback whose destructor cannot unwind (a panicking `Drop` of something it captured is
/// caught and reported). Compiled, like [`contain`], into the copy of st-core that subscribes.
struct DropContained<T>(ManuallyDrop<T>);

impl<T> Drop for DropContained<T> {
    fn drop(&mut self) {
        let inner = &mut self.0;
        // SAFETY: `inner` is dropped exactly once, here, and never used afterwards.
        let r = catch_unwind(AssertUnwindSafe(|| unsafe { ManuallyDrop::drop(inner) }));
        if let Err(p) = r {
            eprintln!(
                "spiraltorch: an event subscriber panicked while being dropped: {}",
                panic_message(&p)
            );
        }
    }
}

/// Wraps `callback` so that a panic is caught where it was raised and returned as an `Err`.
///
/// This runs in whichever copy of st-core calls [`PluginEventBus::subscribe`]: for a dynamic
/// plugin, its own. A panic can only be caught by the Rust runtime that raised it (another one
/// aborts the process with "Rust cannot catch foreign exceptions"), so the bus, which may be the
/// host's, never lets a subscriber's panic unwind into it.
fn contain(callback: EventCallback) -> Handler {
    let callback = DropContained(ManuallyDrop::new(callback));
    Arc::new(move |event: &PluginEvent| {
        catch_unwind(AssertUnwindSafe(|| (callback.0)(event))).map_err(|p| {
            format!(
                "panicked in a subscriber for {}: {}",
                event.name(),
                panic_message(&p)
            )
        })
    })
}

impl PluginEventBus {
    /// A new, empty bus (independent of the global one).
    pub fn new() -> Self {
        Self::default()
    }

    fn with_counter(counter: Counter) -> Self {
        PluginEventBus {
            core: Arc::new(HostBus::new(counter)),
            owner: None,
        }
    }

    /// A handle on the same bus whose subscriptions belong to `owner`.
    pub(crate) fn owned_by(&self, owner: Arc<Owner>) -> PluginEventBus {
        PluginEventBus {
            core: self.core.clone(),
            owner: Some(owner),
        }
    }

    /// Subscribes `callback` to events named `pattern` (`"*"` for all). Subscribing to
    /// `"TensorOp"` or `"*"` on the global bus makes the dispatcher time and publish every op.
    ///
    /// A panic in `callback` is contained: the subscription is removed (through a plugin's
    /// handle, the plugin is marked failed and loses all its subscriptions) and a
    /// [`FAULT_EVENT`] is published. Through the handle of a plugin that has been unloaded or
    /// has failed, the subscription is refused (reported on stderr; the returned id is inert).
    pub fn subscribe(&self, pattern: &str, callback: EventCallback) -> SubscriptionId {
        self.core.add(
            Filter::from_pattern(pattern),
            contain(callback),
            self.owner.as_ref(),
        )
    }

    /// Subscribes `callback` to every event except `TensorOp`. Unlike `"*"`, this does not make
    /// the dispatcher publish op events.
    pub fn subscribe_all_but_tensor_op(&self, callback: EventCallback) -> SubscriptionId {
        self.core.add(
            Filter::AllButTensorOp,
            contain(callback),
            self.owner.as_ref(),
        )
    }

    /// Subscribes a host-made, already contained handler owned by `owner` (the registry's
    /// `on_event` delivery).
    pub(crate) fn add_handler(
        &self,
        filter: Filter,
        handler: Handler,
        owner: &Arc<Owner>,
    ) -> SubscriptionId {
        self.core.add(filter, handler, Some(owner))
    }

    /// Removes every subscription of `owner`.
    pub(crate) fn remove_owned(&self, owner: &Owner) -> usize {
        self.core.remove_owned(owner)
    }

    /// Removes a subscription; returns whether it existed.
    pub fn unsubscribe(&self, id: SubscriptionId) -> bool {
        self.core.remove(id)
    }

    /// Number of subscriptions.
    pub fn subscriber_count(&self) -> usize {
        self.core.subscriber_count()
    }

    /// True when some subscriber would receive a `TensorOp` event.
    #[inline]
    pub fn has_tensor_op_listeners(&self) -> bool {
        self.core.has_tensor_op_listeners()
    }

    /// Delivers `event` to every matching subscriber, in subscription order, or queues it when
    /// this thread is already delivering an event or running a plugin hook (see the type's
    /// docs). The subscriber list is not locked while callbacks run, so a callback may publish,
    /// subscribe or unsubscribe. An event nested deeper than [`MAX_PUBLISH_DEPTH`] is dropped
    /// and reported as a [`FAULT_EVENT`].
    pub fn publish(&self, event: &PluginEvent) {
        self.core.publish(&self.core, event, self.owner.as_ref());
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
    GLOBAL_TENSOR_OP_LISTENERS.load(std::sync::atomic::Ordering::Relaxed) != 0
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

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
