//! The event bus: [`PluginEvent`]s, the [`PluginEventBus`] handle, its core (run-to-completion
//! delivery, Note [Run-to-completion delivery] in `bus_core.rs`), the per-plugin owner tags of
//! subscriptions, and the process-wide bus the dispatcher publishes `TensorOp` on.

mod bus_core;
mod event;
mod owner;
pub(crate) mod queue;

pub(crate) use bus_core::{Filter, Handler, Keep};
pub(crate) use event::tensor_op_listened;
pub use event::{
    global_event_bus, panic_message, EventCallback, FaultKind, PluginEvent, PluginEventBus,
    PluginFault, SubscriptionId, FAULT_EVENT, MAX_PUBLISH_DEPTH, OP_EVENTS_ENABLED,
};
pub(crate) use owner::Owner;
