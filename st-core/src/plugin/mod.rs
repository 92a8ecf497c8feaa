//! The plugin system of seed spiraltorch-plugin-system.md: the [`Plugin`] trait, metadata and
//! capabilities, the [`PluginRegistry`] (dependency-ordered, panic-contained), the
//! [`PluginContext`] (configuration, typed services, subscriptions), link-time plugins
//! (`submit_plugin!`), dynamic plugins (`declare_plugin!` + [`DynamicPluginLoader`]), the CPU
//! backend plugin, and built-in telemetry plugins.
//!
//! Events reach plugins two ways: callbacks registered with [`PluginContext::subscribe`], and
//! `on_event`, which the registry calls for every event except `TensorOp` unless the plugin asked
//! for those with [`PluginContext::receive_tensor_ops`] (so loading a plugin does not make every
//! op pay for timing and event construction).

mod context;
mod cpu_plugin;
mod declare;
mod invoke;
mod loader_dynamic;
mod loader_static;
mod metadata;
mod registry;
mod resolve;
mod system;
pub mod telemetry;
mod traits;

pub use crate::events::{EventCallback, PluginEvent, PluginEventBus, SubscriptionId};
pub use context::PluginContext;
pub use cpu_plugin::CpuBackendPlugin;
#[doc(hidden)]
pub use declare::__create_contained;
pub use declare::{
    layout_fingerprint, linked_plugins, std_fingerprint, Contained, FfiStr, PluginDeclaration,
    PluginFactory, CORE_VERSION, PLUGIN_ABI_VERSION, PLUGIN_DECLARATION_SYMBOL, RUSTC_VERSION,
};
pub use loader_dynamic::{check_declaration, DynamicPluginLoader};
pub use loader_static::{PluginLoader, StaticPluginLoader};
pub use metadata::{PluginCapability, PluginDependency, PluginMetadata};
pub use registry::PluginRegistry;
pub use system::{global_registry, init_plugin_system};
pub use traits::{Plugin, PluginInfo, PluginState};
