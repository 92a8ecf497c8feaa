//! Calling into plugin code safely: every call is wrapped in `catch_unwind`, and a thread-local
//! set of the plugins this thread is inside prevents self-deadlock when a plugin publishes an
//! event (or runs an op) from its own hook.

use super::context::PluginContext;
use super::traits::Plugin;
use crate::error::{Error, Result};
use crate::events::{panic_message, EventCallback, PluginEvent};
use parking_lot::Mutex;
use std::any::Any;
use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

/// Reason prefix of a contained panic. Dynamic plugins catch their own panics (see
/// `declare.rs`) and report them as `Error::Plugin` with this prefix, so both paths read alike.
pub(crate) const PANIC_PREFIX: &str = "panicked in ";

/// A registered plugin instance.
///
/// Field order matters: the plugin is dropped before `library`, whose code it runs on.
pub(crate) struct PluginCell {
    pub(crate) plugin: Mutex<Box<dyn Plugin>>,
    /// The plugin's own context handle (tagged with its id).
    pub(crate) ctx: PluginContext,
    /// True between a successful `on_load` and unload or failure.
    pub(crate) loaded: AtomicBool,
    /// Keeps a dynamic plugin's library mapped while the plugin exists.
    pub(crate) library: Option<Arc<dyn Any + Send + Sync>>,
    pub(crate) library_path: Option<PathBuf>,
}

impl PluginCell {
    fn key(&self) -> usize {
        self as *const PluginCell as usize
    }
}

thread_local! {
    /// Cells whose plugin code this thread is currently running.
    static ACTIVE: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Pops the cell from [`ACTIVE`] when the call ends, also on unwind.
struct ActiveGuard(usize);

impl ActiveGuard {
    /// `None` when this thread is already inside the cell's plugin.
    fn enter(cell: &PluginCell) -> Option<ActiveGuard> {
        let key = cell.key();
        ACTIVE.with(|a| {
            let mut a = a.borrow_mut();
            if a.contains(&key) {
                None
            } else {
                a.push(key);
                Some(ActiveGuard(key))
            }
        })
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        ACTIVE.with(|a| {
            let mut a = a.borrow_mut();
            if let Some(pos) = a.iter().rposition(|k| *k == self.0) {
                a.remove(pos);
            }
        });
    }
}

/// Result of one call into plugin code.
pub(crate) enum Outcome<T> {
    /// Returned `Ok`.
    Done(T),
    /// Returned an error.
    Failed(Error),
    /// Panicked; the message starts with [`PANIC_PREFIX`].
    Panicked(String),
    /// This thread is already inside the plugin; the call was skipped.
    Busy,
}

/// Runs `f` on the cell's plugin with a mutable copy of its context handle, containing panics.
/// `hook` names the call in panic messages.
pub(crate) fn call<T>(
    cell: &PluginCell,
    hook: &str,
    f: impl FnOnce(&mut dyn Plugin, &mut PluginContext) -> Result<T>,
) -> Outcome<T> {
    let Some(_active) = ActiveGuard::enter(cell) else {
        return Outcome::Busy;
    };
    let mut ctx = cell.ctx.clone();
    let mut plugin = cell.plugin.lock();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut **plugin, &mut ctx)));
    match r {
        Ok(Ok(v)) => Outcome::Done(v),
        Ok(Err(Error::Plugin { reason, .. })) if reason.starts_with(PANIC_PREFIX) => {
            Outcome::Panicked(reason)
        }
        Ok(Err(e)) => Outcome::Failed(e),
        Err(p) => Outcome::Panicked(format!("{PANIC_PREFIX}{hook}: {}", panic_message(&p))),
    }
}

/// Runs host code `f` on the plugin as `&mut dyn Plugin` (typed access). Errors when this thread
/// is already inside the plugin (the lock would deadlock).
pub(crate) fn with_plugin<R>(
    cell: &PluginCell,
    id: &str,
    f: impl FnOnce(&mut dyn Plugin) -> R,
) -> Result<R> {
    let Some(_active) = ActiveGuard::enter(cell) else {
        return Err(Error::Plugin {
            plugin: id.to_string(),
            reason: "is already being called on this thread (re-entrant access)".into(),
        });
    };
    let mut plugin = cell.plugin.lock();
    Ok(f(&mut **plugin))
}

/// The bus callback that feeds `event` to the cell's `on_event` while it is loaded. Holds the
/// cell weakly so an unloaded plugin is freed even if a publish still holds this callback.
pub(crate) fn delivery(cell: &Arc<PluginCell>) -> EventCallback {
    let weak: Weak<PluginCell> = Arc::downgrade(cell);
    Arc::new(move |event: &PluginEvent| {
        let Some(cell) = weak.upgrade() else { return };
        if !cell.loaded.load(Ordering::Acquire) {
            return;
        }
        let Some(owner) = cell.ctx.owner().cloned() else {
            return;
        };
        if owner.is_failed() {
            return;
        }
        match call(&cell, "on_event", |p, ctx| p.on_event(event, ctx)) {
            Outcome::Done(()) | Outcome::Busy => {}
            Outcome::Failed(e) => {
                eprintln!(
                    "spiraltorch: plugin {} on_event({}) failed: {e}",
                    owner.id,
                    event.name()
                )
            }
            Outcome::Panicked(msg) => {
                cell.loaded.store(false, Ordering::Release);
                owner.fail(msg);
            }
        }
    })
}
