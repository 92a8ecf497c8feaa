//! The [`Plugin`] trait every plugin implements, and the state the registry reports for it.

use super::context::PluginContext;
use super::metadata::PluginMetadata;
use crate::error::Result;
use crate::events::PluginEvent;
use std::any::Any;

/// A SpiralTorch plugin.
///
/// Every call the registry makes into a plugin is panic-contained: a panic marks the plugin
/// failed with the panic message and the host keeps running.
///
/// ```
/// use st_core::plugin::{Plugin, PluginContext, PluginMetadata};
/// use st_core::events::PluginEvent;
/// use st_core::Result;
/// use std::any::Any;
///
/// #[derive(Default)]
/// struct Hello;
///
/// impl Plugin for Hello {
///     fn metadata(&self) -> PluginMetadata {
///         PluginMetadata::new("hello", "1.0.0")
///     }
///     fn on_load(&mut self, ctx: &mut PluginContext) -> Result<()> {
///         ctx.register_service("greeting", String::from("hello"));
///         Ok(())
///     }
///     fn on_unload(&mut self, _ctx: &mut PluginContext) -> Result<()> {
///         Ok(())
///     }
///     fn as_any(&self) -> &dyn Any {
///         self
///     }
///     fn as_any_mut(&mut self) -> &mut dyn Any {
///         self
///     }
/// }
/// ```
pub trait Plugin: Send + Sync {
    /// Id, version, capabilities and dependencies. Called once, at registration.
    fn metadata(&self) -> PluginMetadata;

    /// Called once, after every dependency is loaded. Register services and subscriptions here.
    ///
    /// # Errors
    /// An error marks the plugin failed; plugins depending on it are not loaded.
    fn on_load(&mut self, ctx: &mut PluginContext) -> Result<()>;

    /// Called once when the plugin is unloaded (after its dependents).
    ///
    /// # Errors
    /// Reported by `PluginRegistry::unload`; the plugin is removed regardless.
    fn on_unload(&mut self, ctx: &mut PluginContext) -> Result<()>;

    /// Called for every event published on the registry's bus while the plugin is loaded,
    /// except `TensorOp`, which arrives only after [`PluginContext::receive_tensor_ops`].
    ///
    /// The plugin's lock is held during the call; events it publishes (or ops it runs) are
    /// queued and delivered after it returns. Events caused by this plugin's own hooks, directly
    /// or through other plugins' hooks, are not delivered back to its `on_event` (its plain
    /// subscriptions still receive them).
    ///
    /// # Errors
    /// Reported on stderr; the plugin stays loaded (a panic, in contrast, marks it failed).
    fn on_event(&mut self, event: &PluginEvent, ctx: &PluginContext) -> Result<()> {
        let _ = (event, ctx);
        Ok(())
    }

    /// `self` as `Any`, for typed access through the registry.
    fn as_any(&self) -> &dyn Any;

    /// `self` as mutable `Any`.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// Where a plugin is in its life cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PluginState {
    /// Registered; `initialize_all` has not loaded it yet.
    Registered,
    /// `on_load` succeeded; the plugin receives events.
    Loaded,
    /// Loading failed, a dependency failed, or the plugin panicked; the message says why.
    Failed(String),
}

/// A snapshot of one registered plugin.
#[derive(Clone, Debug)]
pub struct PluginInfo {
    /// Its metadata.
    pub metadata: PluginMetadata,
    /// Its state.
    pub state: PluginState,
    /// File it was loaded from, for dynamic plugins.
    pub library: Option<std::path::PathBuf>,
}

impl PluginInfo {
    /// The plugin id.
    pub fn id(&self) -> &str {
        &self.metadata.id
    }

    /// True when loaded.
    pub fn is_loaded(&self) -> bool {
        self.state == PluginState::Loaded
    }
}
