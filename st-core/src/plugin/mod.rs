//! The plugin system of seed spiraltorch-plugin-system.md: the [`Plugin`] trait, metadata and
//! capabilities, the [`PluginRegistry`] (dependency-ordered, panic-contained), the
//! [`PluginContext`] (configuration, typed services, subscriptions), link-time plugins
//! (`submit_plugin!`), dynamic plugins (`declare_plugin!` + [`DynamicPluginLoader`]), the CPU
//! backend plugin, and built-in telemetry plugins.
//!
//! Events reach plugins two ways: callbacks registered with [`PluginContext::subscribe`] (or
//! through `ctx.event_bus`), and `on_event`, which the registry calls for every event except
//! `TensorOp` unless the plugin asked for those with [`PluginContext::receive_tensor_ops`] (so
//! loading a plugin does not make every op pay for timing and event construction).
//!
//! Delivery semantics (Note [Run-to-completion delivery] in `events/bus_core.rs`):
//! - an event published from inside a handler (a subscriber, `on_event`, an op run by either) or
//!   a hook is queued and delivered on the same thread once that handler has returned and the
//!   current event has reached every subscriber; no plugin lock is held while events are
//!   delivered, so plugins that publish from their handlers cannot deadlock each other;
//! - an event is not delivered to the `on_event` of a plugin whose hook caused it, directly or
//!   through other plugins' hooks (so two plugins echoing each other stop after one round);
//! - events nested deeper than [`MAX_PUBLISH_DEPTH`] are
//!   dropped, and faults (panicking subscribers, dropped events) are reported on stderr and as a
//!   [`FAULT_EVENT`] custom event carrying a
//!   [`PluginFault`]; a panicking subscriber is unsubscribed and its
//!   plugin marked failed. Nothing else is dropped.
//!
//! Dynamic plugins: the file is checked before `dlopen`, the declaration before it is read
//! (Note [Dynamic plugin ABI] in `declare.rs`), every call into the plugin catches its panics on
//! the plugin's side, its subscriptions are removed when it unloads, and its library stays
//! mapped until the last call into it has returned (Note [Keeping plugin libraries mapped]).

mod contained;
pub(crate) mod context;
mod cpu_plugin;
mod declare;
mod elf;
mod invoke;
mod loader_dynamic;
mod loader_static;
mod metadata;
mod registry;
mod resolve;
#[cfg(target_os = "linux")]
mod segments;
mod system;
pub mod telemetry;
mod traits;

pub use crate::events::{
    EventCallback, FaultKind, PluginEvent, PluginEventBus, PluginFault, SubscriptionId,
    FAULT_EVENT, MAX_PUBLISH_DEPTH,
};
pub use contained::Contained;
pub use context::PluginContext;
pub use cpu_plugin::CpuBackendPlugin;
#[doc(hidden)]
pub use declare::__create_contained;
pub use declare::{
    layout_fingerprint, linked_plugins, std_fingerprint, FfiStr, PluginDeclaration, PluginFactory,
    CORE_VERSION, MAX_DECLARATION_STR, PLUGIN_ABI_VERSION, PLUGIN_DECLARATION_MAGIC,
    PLUGIN_DECLARATION_SYMBOL, RUSTC_VERSION,
};
pub use loader_dynamic::{check_declaration, DynamicPluginLoader};
pub use loader_static::{PluginLoader, StaticPluginLoader};
pub use metadata::{PluginCapability, PluginDependency, PluginMetadata};
pub use registry::PluginRegistry;
pub use system::{global_registry, init_plugin_system};
pub use traits::{Plugin, PluginInfo, PluginState};
