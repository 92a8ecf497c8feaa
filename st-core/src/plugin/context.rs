//! [`PluginContext`]: what a plugin sees of the host: the event bus, string configuration with
//! typed getters, and a registry of typed services shared between plugins.
//!
//! The registry gives every plugin its own context handle tagged with the plugin's id (all
//! handles share one configuration, one service table and one bus). The handle's `event_bus` is
//! tagged too, so every subscription the plugin makes (through [`PluginContext::subscribe`], the
//! public `event_bus` field, or a clone of either) belongs to the plugin: it is removed when the
//! plugin unloads or fails, a panicking callback marks the plugin failed, and for a dynamic
//! plugin it keeps the library mapped (Note [Keeping plugin libraries mapped] in `bus.rs`). Locks
//! here are `std::sync` ones, see Note [Bus locks across plugin libraries] in `events.rs`.

use crate::dispatch::custom_op::CustomOp;
use crate::dispatch::{custom_ops, CustomOpTable, FusedKernelFn, KernelCaps};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::events::{EventCallback, PluginEvent, PluginEventBus, SubscriptionId};
use crate::events::{Keep, Owner};
use crate::op::OpId;
use std::any::Any;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A service. Field order: the value (possibly a dynamic plugin's object) drops before `keep`
/// (its library, see Note [Keeping plugin libraries mapped]).
struct ServiceEntry {
    value: Arc<dyn Any + Send + Sync>,
    owner: Option<String>,
    keep: Option<Keep>,
}

/// The host side a plugin talks to. Cloning gives another handle to the same state.
#[derive(Clone)]
pub struct PluginContext {
    /// The bus events are published on (for the global registry: the dispatcher's bus).
    pub event_bus: PluginEventBus,
    config: Arc<Mutex<HashMap<String, String>>>,
    services: Arc<Mutex<HashMap<String, ServiceEntry>>>,
    /// The host's custom-op table (Note [Custom op table across libraries]).
    ops: Arc<CustomOpTable>,
    owner: Option<Arc<Owner>>,
}

impl std::fmt::Debug for PluginContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginContext")
            .field("plugin", &self.plugin_id())
            .field("services", &self.service_names())
            .finish()
    }
}

impl PluginContext {
    /// A context on `event_bus` with empty configuration and no services.
    pub fn new(event_bus: PluginEventBus) -> Self {
        PluginContext {
            event_bus,
            config: Arc::default(),
            services: Arc::default(),
            ops: custom_ops().clone(),
            owner: None,
        }
    }

    /// A handle on the same state tagged with plugin `id`, whose code lives in `library` for a
    /// dynamic plugin (used by the registry).
    pub(crate) fn for_plugin(&self, id: &str, library: Option<&Keep>) -> PluginContext {
        let owner = Arc::new(Owner {
            id: id.to_string(),
            bus: self.event_bus.clone(),
            failed: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            failure: Mutex::new(None),
            wants_tensor_ops: AtomicBool::new(false),
            library: library.map(Arc::downgrade),
        });
        PluginContext {
            event_bus: self.event_bus.owned_by(owner.clone()),
            owner: Some(owner),
            ..self.clone()
        }
    }

    pub(crate) fn owner(&self) -> Option<&Arc<Owner>> {
        self.owner.as_ref()
    }

    /// Id of the plugin this handle belongs to (`None` for the host's own handle).
    pub fn plugin_id(&self) -> Option<&str> {
        self.owner.as_deref().map(|o| o.id.as_str())
    }

    fn err(&self, reason: String) -> Error {
        Error::Plugin {
            plugin: self.plugin_id().unwrap_or("<host>").to_string(),
            reason,
        }
    }

    // ---- configuration ----

    /// Sets configuration `key` to `value`.
    pub fn set_config(&self, key: impl Into<String>, value: impl Into<String>) {
        lock(&self.config).insert(key.into(), value.into());
    }

    /// The string value of `key`.
    pub fn config(&self, key: &str) -> Option<String> {
        lock(&self.config).get(key).cloned()
    }

    /// The string value of `key`, or `default`.
    pub fn config_or(&self, key: &str, default: &str) -> String {
        self.config(key).unwrap_or_else(|| default.to_string())
    }

    /// `key` parsed as `T`; `Ok(None)` when unset.
    ///
    /// # Errors
    /// [`Error::Plugin`] naming the key, value and type when the value does not parse.
    pub fn config_parse<T: FromStr>(&self, key: &str) -> Result<Option<T>> {
        match self.config(key) {
            None => Ok(None),
            Some(v) => v.trim().parse::<T>().map(Some).map_err(|_| {
                self.err(format!(
                    "config {key} = {v:?} is not a valid {}",
                    std::any::type_name::<T>()
                ))
            }),
        }
    }

    /// `key` as a boolean (`true/false`, `1/0`, `yes/no`, `on/off`); `Ok(None)` when unset.
    ///
    /// # Errors
    /// [`Error::Plugin`] when the value is none of those.
    pub fn config_bool(&self, key: &str) -> Result<Option<bool>> {
        match self.config(key) {
            None => Ok(None),
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(Some(true)),
                "false" | "0" | "no" | "off" => Ok(Some(false)),
                _ => Err(self.err(format!("config {key} = {v:?} is not a boolean"))),
            },
        }
    }

    /// `key` as an `i64`; `Ok(None)` when unset.
    ///
    /// # Errors
    /// [`Error::Plugin`] when the value is not an integer.
    pub fn config_i64(&self, key: &str) -> Result<Option<i64>> {
        self.config_parse(key)
    }

    /// `key` as a `usize`; `Ok(None)` when unset.
    ///
    /// # Errors
    /// [`Error::Plugin`] when the value is not a non-negative integer.
    pub fn config_usize(&self, key: &str) -> Result<Option<usize>> {
        self.config_parse(key)
    }

    /// `key` as an `f64`; `Ok(None)` when unset.
    ///
    /// # Errors
    /// [`Error::Plugin`] when the value is not a number.
    pub fn config_f64(&self, key: &str) -> Result<Option<f64>> {
        self.config_parse(key)
    }

    // ---- services ----

    /// Registers `service` under `name`, replacing any previous one. Other plugins and the host
    /// read it back with [`PluginContext::get_service`] using the same type `T` (for a trait
    /// object, register an `Arc<dyn Trait>` and ask for `Arc<dyn Trait>`). Services registered
    /// by a plugin are removed when it unloads; a plugin that has been unloaded or has failed
    /// cannot register any (reported on stderr).
    pub fn register_service<T: Any + Send + Sync>(&self, name: impl Into<String>, service: T) {
        let name = name.into();
        let keep = match self.owner.as_deref().map(Owner::keepalive) {
            None => None,
            Some(Ok(keep)) => keep,
            Some(Err(why)) => {
                eprintln!("spiraltorch: service {name} not registered: {why}");
                return;
            }
        };
        let entry = ServiceEntry {
            value: Arc::new(service),
            owner: self.plugin_id().map(str::to_string),
            keep,
        };
        let replaced = lock(&self.services).insert(name, entry);
        // Dropped outside the lock: a service's destructor may use the context.
        drop(replaced);
    }

    /// A clone of service `name` if it exists and has type `T`.
    pub fn get_service<T: Any + Clone>(&self, name: &str) -> Option<T> {
        let (value, keep) = {
            let services = lock(&self.services);
            let e = services.get(name)?;
            (e.value.clone(), e.keep.clone())
        };
        let found = value.downcast_ref::<T>().cloned();
        // The value may be the last reference to a plugin's object: drop it while its library is
        // still held.
        drop(value);
        drop(keep);
        found
    }

    /// Whether a service called `name` exists (of any type).
    pub fn has_service(&self, name: &str) -> bool {
        lock(&self.services).contains_key(name)
    }

    /// Names of all services, sorted.
    pub fn service_names(&self) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.services).keys().cloned().collect();
        v.sort();
        v
    }

    /// Removes service `name`; returns whether it existed.
    pub fn remove_service(&self, name: &str) -> bool {
        let removed = lock(&self.services).remove(name);
        removed.is_some()
    }

    // ---- ops ----

    /// What a registration of this handle's plugin must hold: its library, for a dynamic one.
    fn registration_keep(&self, what: &str) -> Result<Option<Keep>> {
        match self.owner.as_deref().map(Owner::keepalive) {
            None => Ok(None),
            Some(Ok(keep)) => Ok(keep),
            Some(Err(why)) => Err(Error::Registry(format!("{what} not registered: {why}"))),
        }
    }

    /// Registers custom op `op` in the host (see `op/custom.rs`). Through a plugin's handle the
    /// op belongs to the plugin: it is unregistered when the plugin unloads, and a dynamic
    /// plugin's library stays mapped while a call of the op runs or its autograd nodes live.
    ///
    /// # Errors
    /// [`Error::Registry`] for an invalid definition, a taken name, or a plugin that has been
    /// unloaded or has failed.
    pub fn register_op(&self, op: CustomOp) -> Result<()> {
        let keep = self.registration_keep(&format!("custom op {}", op.name()))?;
        self.ops
            .insert(op, self.plugin_id().map(str::to_string), keep)
    }

    /// Registers a fused override of composite op `op` for `backend` and `dtypes` in the host
    /// (see `dispatch/fused.rs`), owned like [`PluginContext::register_op`]'s ops.
    ///
    /// # Errors
    /// [`Error::Registry`] when `op` is not a composite, a key is taken, or the plugin has been
    /// unloaded or has failed.
    pub fn register_fused(
        &self,
        op: OpId,
        backend: &str,
        dtypes: &[DType],
        caps: KernelCaps,
        kernel: FusedKernelFn,
    ) -> Result<()> {
        let keep = self.registration_keep(&format!("fused {op} override"))?;
        self.ops.insert_fused(
            op,
            backend,
            dtypes,
            kernel,
            caps,
            self.plugin_id().map(str::to_string),
            keep,
        )
    }

    /// The custom-op table this context registers into (the host's).
    pub fn custom_ops(&self) -> &Arc<CustomOpTable> {
        &self.ops
    }

    /// Removes every service, custom op and fused override registered by plugin `id`.
    pub(crate) fn remove_services_of(&self, id: &str) {
        self.ops.remove_owned(id);
        let removed: Vec<ServiceEntry> = {
            let mut s = lock(&self.services);
            let names: Vec<String> = s
                .iter()
                .filter(|(_, e)| e.owner.as_deref() == Some(id))
                .map(|(n, _)| n.clone())
                .collect();
            names.iter().filter_map(|n| s.remove(n)).collect()
        };
        // Dropped outside the lock: a service's destructor may use the context.
        drop(removed);
    }

    // ---- events ----

    /// Subscribes `callback` to events named `pattern` (`"*"` for all); the same as
    /// `self.event_bus.subscribe`. Through a plugin's handle the subscription belongs to the
    /// plugin: it is removed when the plugin unloads, and a panic in `callback` marks the plugin
    /// failed (its subscriptions are then all removed).
    pub fn subscribe(&self, pattern: &str, callback: EventCallback) -> SubscriptionId {
        self.event_bus.subscribe(pattern, callback)
    }

    /// Removes a subscription; returns whether it existed.
    pub fn unsubscribe(&self, id: SubscriptionId) -> bool {
        self.event_bus.unsubscribe(id)
    }

    /// Publishes `event` on the bus (queued when called from a handler, see [`PluginEventBus`]).
    pub fn publish(&self, event: &PluginEvent) {
        self.event_bus.publish(event);
    }

    /// Asks the registry to deliver `TensorOp` events to this plugin's `on_event` (call from
    /// `on_load`). By default `on_event` receives every event except `TensorOp`, so that loading
    /// a plugin does not make every op pay for timing and event construction.
    pub fn receive_tensor_ops(&self) {
        if let Some(owner) = &self.owner {
            owner.wants_tensor_ops.store(true, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_config_and_services() {
        let ctx = PluginContext::new(PluginEventBus::new());
        ctx.set_config("lr", "0.5");
        ctx.set_config("flag", "Yes");
        ctx.set_config("n", "x1");
        assert_eq!(ctx.config_f64("lr").unwrap(), Some(0.5));
        assert_eq!(ctx.config_bool("flag").unwrap(), Some(true));
        assert!(ctx.config_usize("n").is_err());
        assert_eq!(ctx.config_i64("missing").unwrap(), None);
        let p = ctx.for_plugin("p", None);
        p.register_service("answer", 42u32);
        assert_eq!(ctx.get_service::<u32>("answer"), Some(42));
        assert_eq!(ctx.get_service::<u64>("answer"), None);
        ctx.remove_services_of("p");
        assert!(!ctx.has_service("answer"));
    }
}
