//! Loaders: the [`PluginLoader`] trait and [`StaticPluginLoader`], which registers plugins
//! compiled into the binary (from a factory function, or every `submit_plugin!` one).

use super::declare::linked_plugins;
use super::registry::PluginRegistry;
use super::traits::Plugin;
use crate::error::{Error, Result};
use crate::events::panic_message;
use std::path::Path;

/// Something that registers plugins into a registry.
pub trait PluginLoader {
    /// Registers the plugins found at `path` (ignored by loaders that do not read files) and
    /// returns their ids. Call `initialize_all` afterwards to load them.
    ///
    /// # Errors
    /// [`Error::Plugin`] naming every plugin that could not be registered; the others stay
    /// registered.
    fn load_into(&self, path: &Path, registry: &PluginRegistry) -> Result<Vec<String>>;
}

/// Registers plugins built by a factory function.
///
/// ```
/// use st_core::plugin::{CpuBackendPlugin, Plugin, PluginLoader, PluginRegistry, StaticPluginLoader};
/// fn create_plugins() -> Vec<Box<dyn Plugin>> {
///     vec![Box::new(CpuBackendPlugin::default())]
/// }
/// let registry = PluginRegistry::new();
/// let ids = StaticPluginLoader::new(create_plugins).load_into(std::path::Path::new("."), &registry)?;
/// assert_eq!(ids, ["cpu_backend"]);
/// # Ok::<(), st_core::Error>(())
/// ```
pub struct StaticPluginLoader {
    factory: Box<dyn Fn() -> Vec<Box<dyn Plugin>> + Send + Sync>,
}

impl StaticPluginLoader {
    /// A loader registering what `factory` returns.
    pub fn new(factory: impl Fn() -> Vec<Box<dyn Plugin>> + Send + Sync + 'static) -> Self {
        StaticPluginLoader {
            factory: Box::new(factory),
        }
    }

    /// A loader registering every plugin linked in with `submit_plugin!`.
    pub fn linked() -> Self {
        StaticPluginLoader::new(|| linked_plugins().map(|f| f.create()).collect())
    }

    /// Registers the plugins into `registry` (the same as [`PluginLoader::load_into`]).
    ///
    /// # Errors
    /// As [`PluginLoader::load_into`]; a panicking factory is reported as an error.
    pub fn load_into(&self, path: &Path, registry: &PluginRegistry) -> Result<Vec<String>> {
        PluginLoader::load_into(self, path, registry)
    }
}

impl PluginLoader for StaticPluginLoader {
    fn load_into(&self, _path: &Path, registry: &PluginRegistry) -> Result<Vec<String>> {
        let plugins = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.factory)()))
            .map_err(|p| Error::Plugin {
            plugin: "<static factory>".into(),
            reason: format!("panicked while building plugins: {}", panic_message(&p)),
        })?;
        register_all(registry, plugins)
    }
}

/// Registers each plugin, collecting ids and failures into one result.
pub(crate) fn register_all(
    registry: &PluginRegistry,
    plugins: Vec<Box<dyn Plugin>>,
) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut errors: Vec<(String, String)> = Vec::new();
    for plugin in plugins {
        match registry.register_cell(plugin, None, None) {
            Ok(id) => ids.push(id),
            Err(Error::Plugin { plugin, reason }) => errors.push((plugin, reason)),
            Err(e) => errors.push(("<unknown>".into(), e.to_string())),
        }
    }
    if errors.is_empty() {
        Ok(ids)
    } else {
        Err(Error::Plugin {
            plugin: errors
                .iter()
                .map(|e| e.0.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            reason: errors
                .iter()
                .map(|(i, r)| format!("{i}: {r}"))
                .collect::<Vec<_>>()
                .join("; "),
        })
    }
}
