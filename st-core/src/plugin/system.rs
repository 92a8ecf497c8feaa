//! The process-wide plugin system: [`global_registry`] (on the dispatcher's event bus) and
//! [`init_plugin_system`], which loads every plugin linked in with `submit_plugin!`.

use super::declare::linked_plugins;
use super::registry::PluginRegistry;
use crate::error::{Error, Result};
use crate::events::{global_event_bus, panic_message, PluginEvent};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static GLOBAL_REGISTRY: OnceLock<PluginRegistry> = OnceLock::new();
static LINKED_REGISTERED: AtomicBool = AtomicBool::new(false);

/// The process-wide registry. It publishes on [`global_event_bus`], so its plugins receive the
/// dispatcher's `TensorOp` events.
pub fn global_registry() -> &'static PluginRegistry {
    GLOBAL_REGISTRY.get_or_init(|| PluginRegistry::with_event_bus(global_event_bus().clone()))
}

/// Starts the plugin system: the first call registers every plugin linked in with
/// `submit_plugin!` (the CPU backend among them) into [`global_registry`] and publishes
/// SystemInit once they are loaded; every call loads whatever is registered and not loaded yet.
///
/// # Errors
/// [`Error::Plugin`] naming the plugins that failed to register or load; the others are loaded.
pub fn init_plugin_system() -> Result<()> {
    let registry = global_registry();
    let first = !LINKED_REGISTERED.swap(true, Ordering::AcqRel);
    let mut errors: Vec<Error> = Vec::new();
    if first {
        for factory in linked_plugins() {
            let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| factory.create()));
            let result = match built {
                Ok(plugin) => registry.register(plugin),
                Err(p) => Err(Error::Plugin {
                    plugin: "<linked plugin>".into(),
                    reason: format!("panicked while being built: {}", panic_message(&p)),
                }),
            };
            if let Err(e) = result {
                errors.push(e);
            }
        }
    }
    if let Err(e) = registry.initialize_all() {
        errors.push(e);
    }
    if first {
        registry.event_bus().publish(&PluginEvent::SystemInit);
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(Error::Plugin {
            plugin: "plugin system".into(),
            reason: errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        }),
    }
}
