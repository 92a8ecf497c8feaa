//! [`PluginRegistry`]: registration, dependency-ordered loading, event delivery to `on_event`,
//! dependent-first unloading and shutdown, with every call into plugin code panic-contained.
//!
//! Locking: the plugin table is a `parking_lot::RwLock` that is never held while plugin code
//! runs; life-cycle operations (initialize, unload, shutdown) are serialized by a re-entrant lock
//! so a plugin may call them from its own hooks. Each plugin has its own lock, held only while
//! its hook runs; events published meanwhile are delivered after it is released (Note
//! [Run-to-completion delivery] in `bus.rs`), so plugins publishing from their handlers cannot
//! deadlock on each other's locks.
//!
//! Unloading never waits for, or closes, a dynamic plugin's library: calls still running in it
//! hold it, and the last one to return closes it (Note [Keeping plugin libraries mapped]).

use super::context::PluginContext;
use super::invoke::{self, Outcome, PluginCell};
use super::metadata::{PluginCapability, PluginMetadata};
use super::resolve::{self, Node};
use super::traits::{Plugin, PluginInfo, PluginState};
use crate::error::{Error, Result};
use crate::events::Filter;
use crate::events::{panic_message, PluginEvent, PluginEventBus};
use parking_lot::{Mutex, ReentrantMutex, RwLock};
use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// A plugin and the library holding its code; fields drop in order, plugin first.
struct Parts {
    plugin: Box<dyn Plugin>,
    library: Option<Arc<dyn Any + Send + Sync>>,
}

struct PluginHandle {
    cell: Arc<PluginCell>,
    metadata: PluginMetadata,
    version: semver::Version,
    reqs: Vec<semver::VersionReq>,
    state: PluginState,
    registered: u64,
    loaded: Option<u64>,
}

impl PluginHandle {
    /// The state, accounting for a failure recorded since (a panic in `on_event` or a callback).
    fn state(&self) -> PluginState {
        if self.state == PluginState::Loaded {
            if let Some(f) = self.cell.ctx.owner().and_then(|o| o.failure()) {
                return PluginState::Failed(f);
            }
        }
        self.state.clone()
    }

    fn info(&self) -> PluginInfo {
        PluginInfo {
            metadata: self.metadata.clone(),
            state: self.state(),
            library: self.cell.library_path.clone(),
        }
    }
}

/// The registry of plugins.
///
/// ```
/// use st_core::plugin::{PluginRegistry, PluginState};
/// let registry = PluginRegistry::new();
/// registry.register(Box::new(st_core::plugin::CpuBackendPlugin::default()))?;
/// registry.initialize_all()?;
/// assert_eq!(registry.get("cpu_backend").unwrap().state, PluginState::Loaded);
/// registry.shutdown()?;
/// # Ok::<(), st_core::Error>(())
/// ```
pub struct PluginRegistry {
    plugins: RwLock<HashMap<String, PluginHandle>>,
    context: PluginContext,
    event_bus: PluginEventBus,
    lifecycle: ReentrantMutex<()>,
    seq: AtomicU64,
}

impl Default for PluginRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for PluginRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<String> = self.list().into_iter().map(|i| i.metadata.id).collect();
        f.debug_struct("PluginRegistry")
            .field("plugins", &ids)
            .finish()
    }
}

fn plugin_err(id: &str, reason: impl Into<String>) -> Error {
    Error::Plugin {
        plugin: id.to_string(),
        reason: reason.into(),
    }
}

/// One error for several failed plugins: the ids joined, and `id: reason` pairs.
fn combine(failures: Vec<(String, String)>) -> Result<()> {
    match failures.len() {
        0 => Ok(()),
        1 => {
            let (id, reason) = failures.into_iter().next().unwrap_or_default();
            Err(Error::Plugin { plugin: id, reason })
        }
        _ => Err(Error::Plugin {
            plugin: failures
                .iter()
                .map(|f| f.0.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            reason: failures
                .iter()
                .map(|(i, r)| format!("{i}: {r}"))
                .collect::<Vec<_>>()
                .join("; "),
        }),
    }
}

impl PluginRegistry {
    /// A registry with its own, new event bus.
    pub fn new() -> Self {
        Self::with_event_bus(PluginEventBus::new())
    }

    /// A registry publishing on `event_bus` (use [`crate::events::global_event_bus`] to receive
    /// the dispatcher's `TensorOp` events).
    pub fn with_event_bus(event_bus: PluginEventBus) -> Self {
        PluginRegistry {
            plugins: RwLock::new(HashMap::new()),
            context: PluginContext::new(event_bus.clone()),
            event_bus,
            lifecycle: ReentrantMutex::new(()),
            seq: AtomicU64::new(0),
        }
    }

    /// The host's handle on the shared context (configuration, services).
    pub fn context(&self) -> &PluginContext {
        &self.context
    }

    /// The bus this registry publishes on and delivers from.
    pub fn event_bus(&self) -> &PluginEventBus {
        &self.event_bus
    }

    /// Registers `plugin` (not loaded until [`PluginRegistry::initialize_all`]).
    ///
    /// # Errors
    /// [`Error::Plugin`] when the id is already registered, the version or a dependency
    /// requirement is not semver, or `metadata()` panics.
    pub fn register(&self, plugin: Box<dyn Plugin>) -> Result<()> {
        self.register_cell(plugin, None, None).map(|_| ())
    }

    /// Registers a plugin whose code lives in `library` (kept alive as long as the plugin).
    pub(crate) fn register_cell(
        &self,
        plugin: Box<dyn Plugin>,
        library: Option<Arc<dyn Any + Send + Sync>>,
        library_path: Option<PathBuf>,
    ) -> Result<String> {
        // Dropped plugin-first on every early return (the library holds the plugin's code).
        let parts = Parts { plugin, library };
        let meta =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parts.plugin.metadata()));
        let metadata = match meta {
            Ok(m) => m,
            Err(p) => {
                let place = library_path.as_ref().map(|p| p.display().to_string());
                return Err(plugin_err(
                    place.as_deref().unwrap_or("<unknown>"),
                    format!("panicked in metadata: {}", panic_message(&p)),
                ));
            }
        };
        let (version, reqs) = metadata.validate()?;
        let id = metadata.id.clone();
        let Parts { plugin, library } = parts;
        let cell = Arc::new(PluginCell {
            plugin: Mutex::new(plugin),
            ctx: self.context.for_plugin(&id, library.as_ref()),
            loaded: AtomicBool::new(false),
            key: invoke::next_key(),
            library,
            library_path,
        });
        let mut plugins = self.plugins.write();
        if let Some(existing) = plugins.get(&id) {
            let reason = format!(
                "already registered (version {}; new version {})",
                existing.metadata.version, metadata.version
            );
            drop(plugins);
            drop(cell);
            return Err(plugin_err(&id, reason));
        }
        let registered = self.seq.fetch_add(1, Ordering::Relaxed);
        plugins.insert(
            id.clone(),
            PluginHandle {
                cell,
                metadata,
                version,
                reqs,
                state: PluginState::Registered,
                registered,
                loaded: None,
            },
        );
        Ok(id)
    }

    /// Loads every registered plugin that is not loaded yet, dependencies first.
    ///
    /// Plugins that cannot load (missing dependency, version mismatch, cycle, `on_load` error or
    /// panic, failed dependency) are marked [`PluginState::Failed`]; the others still load.
    ///
    /// # Errors
    /// One [`Error::Plugin`] naming every plugin that failed, with the reasons.
    pub fn initialize_all(&self) -> Result<()> {
        let _life = self.lifecycle.lock();
        let nodes: Vec<Node> = {
            let plugins = self.plugins.read();
            let mut hs: Vec<&PluginHandle> = plugins.values().collect();
            hs.sort_by_key(|h| h.registered);
            hs.iter()
                .map(|h| Node {
                    id: h.metadata.id.clone(),
                    version: h.version.clone(),
                    state: h.state(),
                    deps: h
                        .metadata
                        .dependencies
                        .iter()
                        .zip(&h.reqs)
                        .map(|(d, r)| (d.id.clone(), r.clone(), d.version_req.clone()))
                        .collect(),
                })
                .collect()
        };
        let plan = resolve::plan(&nodes);
        let mut failures = plan.failed;
        for (id, reason) in &failures {
            self.mark_failed(id, reason.clone());
        }
        for id in plan.order {
            let blocker = {
                let plugins = self.plugins.read();
                let Some(h) = plugins.get(&id) else { continue };
                h.metadata
                    .dependencies
                    .iter()
                    .find(|d| plugins.get(&d.id).map(|dh| dh.state()) != Some(PluginState::Loaded))
                    .map(|d| d.id.clone())
            };
            if let Some(dep) = blocker {
                let reason = format!("dependency {dep} failed to load");
                self.mark_failed(&id, reason.clone());
                failures.push((id, reason));
                continue;
            }
            if let Err(reason) = self.load_one(&id) {
                failures.push((id, reason));
            }
        }
        combine(failures)
    }

    fn mark_failed(&self, id: &str, reason: String) {
        if let Some(h) = self.plugins.write().get_mut(id) {
            h.state = PluginState::Failed(reason);
        }
    }

    /// Runs `on_load`; on success subscribes the plugin's `on_event` and publishes PluginLoaded.
    fn load_one(&self, id: &str) -> std::result::Result<(), String> {
        let Some(cell) = self.plugins.read().get(id).map(|h| h.cell.clone()) else {
            return Err("was removed while loading".into());
        };
        let Some(owner) = cell.ctx.owner().cloned() else {
            return Err("has no context owner".into());
        };
        let reason = match invoke::call(&cell, "on_load", |p, ctx| p.on_load(ctx)) {
            Outcome::Done(()) => owner.failure(),
            Outcome::Failed(e) => Some(format!("on_load failed: {e}")),
            Outcome::Panicked(m) => Some(m),
            Outcome::Busy => Some("on_load re-entered".into()),
        };
        if let Some(reason) = reason {
            owner.fail(reason.clone());
            self.context.remove_services_of(id);
            self.mark_failed(id, reason.clone());
            return Err(reason);
        }
        cell.loaded.store(true, Ordering::Release);
        self.event_bus
            .add_handler(Filter::AllButTensorOp, invoke::delivery(&cell), &owner);
        if owner.wants_tensor_ops() {
            self.event_bus.add_handler(
                Filter::Name("TensorOp".into()),
                invoke::delivery(&cell),
                &owner,
            );
        }
        if let Some(h) = self.plugins.write().get_mut(id) {
            h.state = PluginState::Loaded;
            h.loaded = Some(self.seq.fetch_add(1, Ordering::Relaxed));
        }
        self.event_bus.publish(&PluginEvent::PluginLoaded {
            plugin_id: id.to_string(),
        });
        Ok(())
    }

    /// Unloads plugin `id`, after unloading every loaded plugin that depends on it (directly or
    /// not), latest-loaded first. Each gets `on_unload`, loses its subscriptions and services,
    /// and is removed from the registry; PluginUnloaded is published for each.
    ///
    /// # Errors
    /// [`Error::Plugin`] when `id` is not registered, or naming the plugins whose `on_unload`
    /// failed or panicked (they are removed regardless).
    pub fn unload(&self, id: &str) -> Result<()> {
        let _life = self.lifecycle.lock();
        let victims = {
            let plugins = self.plugins.read();
            if !plugins.contains_key(id) {
                return Err(plugin_err(id, "is not registered"));
            }
            let mut set: HashSet<String> = HashSet::from([id.to_string()]);
            loop {
                let before = set.len();
                for h in plugins.values() {
                    let loaded = h.state() == PluginState::Loaded;
                    if loaded && h.metadata.dependencies.iter().any(|d| set.contains(&d.id)) {
                        set.insert(h.metadata.id.clone());
                    }
                }
                if set.len() == before {
                    break;
                }
            }
            let mut v: Vec<(u64, String)> = set
                .into_iter()
                .map(|i| (plugins.get(&i).and_then(|h| h.loaded).unwrap_or(0), i))
                .collect();
            v.sort_by(|a, b| b.cmp(a));
            v.into_iter().map(|(_, i)| i).collect::<Vec<_>>()
        };
        let failures: Vec<(String, String)> = victims
            .iter()
            .filter_map(|v| self.unload_one(v).err().map(|r| (v.clone(), r)))
            .collect();
        combine(failures)
    }

    fn unload_one(&self, id: &str) -> std::result::Result<(), String> {
        let Some(handle) = self.plugins.write().remove(id) else {
            return Ok(());
        };
        let cell = handle.cell;
        let was_loaded = cell.loaded.swap(false, Ordering::AcqRel);
        let owner = cell.ctx.owner().cloned();
        let failed = owner.as_ref().is_some_and(|o| o.is_failed());
        if let Some(o) = &owner {
            // Its subscriptions go (also those made through `ctx.event_bus`), and no new ones
            // are accepted, so none can outlive the plugin.
            o.close();
        }
        let result = if was_loaded && !failed {
            match invoke::call(&cell, "on_unload", |p, ctx| p.on_unload(ctx)) {
                Outcome::Done(()) | Outcome::Busy => Ok(()),
                Outcome::Failed(e) => Err(format!("on_unload failed: {e}")),
                Outcome::Panicked(m) => Err(m),
            }
        } else {
            Ok(())
        };
        self.context.remove_services_of(id);
        // A call still running in the plugin (on another thread) holds the cell or the library;
        // the library closes when the last of them returns, never here on a timeout.
        drop(cell);
        if was_loaded {
            self.event_bus.publish(&PluginEvent::PluginUnloaded {
                plugin_id: id.to_string(),
            });
        }
        result
    }

    /// Publishes SystemShutdown, unloads every loaded plugin in reverse load order, and removes
    /// the plugins that never loaded. The registry is empty afterwards.
    ///
    /// # Errors
    /// [`Error::Plugin`] naming the plugins whose `on_unload` failed or panicked.
    pub fn shutdown(&self) -> Result<()> {
        let _life = self.lifecycle.lock();
        self.event_bus.publish(&PluginEvent::SystemShutdown);
        let mut order: Vec<(u64, String)> = self
            .plugins
            .read()
            .values()
            .map(|h| (h.loaded.unwrap_or(0), h.metadata.id.clone()))
            .collect();
        order.sort_by(|a, b| b.cmp(a));
        let failures: Vec<(String, String)> = order
            .into_iter()
            .filter_map(|(_, id)| self.unload_one(&id).err().map(|r| (id, r)))
            .collect();
        combine(failures)
    }

    /// A snapshot of plugin `id`.
    pub fn get(&self, id: &str) -> Option<PluginInfo> {
        self.plugins.read().get(id).map(PluginHandle::info)
    }

    /// The state of plugin `id`.
    pub fn state(&self, id: &str) -> Option<PluginState> {
        self.plugins.read().get(id).map(PluginHandle::state)
    }

    /// True when plugin `id` is loaded.
    pub fn is_loaded(&self, id: &str) -> bool {
        self.state(id) == Some(PluginState::Loaded)
    }

    /// Every registered plugin, in registration order.
    pub fn list(&self) -> Vec<PluginInfo> {
        let plugins = self.plugins.read();
        let mut hs: Vec<&PluginHandle> = plugins.values().collect();
        hs.sort_by_key(|h| h.registered);
        hs.into_iter().map(PluginHandle::info).collect()
    }

    /// Loaded plugins declaring `capability`, in registration order.
    pub fn find_by_capability(&self, capability: &PluginCapability) -> Vec<PluginInfo> {
        self.list()
            .into_iter()
            .filter(|i| i.is_loaded() && i.metadata.has_capability(capability))
            .collect()
    }

    /// Runs `f` on plugin `id` downcast to its concrete type `T`.
    ///
    /// # Errors
    /// [`Error::Plugin`] when `id` is not registered, is not a `T`, or is being called on this
    /// thread already.
    pub fn with_plugin<T: Any, R>(&self, id: &str, f: impl FnOnce(&T) -> R) -> Result<R> {
        self.with_plugin_mut(id, |p: &mut T| f(p))
    }

    /// Runs `f` on plugin `id` downcast mutably to `T`.
    ///
    /// # Errors
    /// As [`PluginRegistry::with_plugin`].
    pub fn with_plugin_mut<T: Any, R>(&self, id: &str, f: impl FnOnce(&mut T) -> R) -> Result<R> {
        let cell = self
            .plugins
            .read()
            .get(id)
            .map(|h| h.cell.clone())
            .ok_or_else(|| plugin_err(id, "is not registered"))?;
        invoke::with_plugin(&cell, id, |p| {
            p.as_any_mut()
                .downcast_mut::<T>()
                .map(f)
                .ok_or_else(|| plugin_err(id, format!("is not a {}", std::any::type_name::<T>())))
        })?
    }
}
