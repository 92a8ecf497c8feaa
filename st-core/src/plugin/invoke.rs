//! Calling into plugin code safely: every call is wrapped in `catch_unwind`, runs inside a
//! [`HookScope`] (so whatever it publishes is delivered only after the plugin's lock is released,
//! see Note [Run-to-completion delivery] in `bus.rs`), and a thread-local set of the plugins this
//! thread is inside refuses re-entrant calls that would deadlock on the plugin's own lock.

use super::context::PluginContext;
use super::traits::Plugin;
use crate::error::{Error, Result};
use crate::events::panic_message;
use crate::events::queue::{self as bus, HookScope};
use crate::events::PluginEvent;
use crate::events::{Handler, Keep};
use parking_lot::{Mutex, MutexGuard};
use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Reason prefix of a contained panic. Dynamic plugins catch their own panics (see
/// `contained.rs`) and report them as `Error::Plugin` with this prefix, so both paths read alike.
pub(crate) const PANIC_PREFIX: &str = "panicked in ";

/// How long typed access waits for a plugin's lock when the calling thread is itself inside a
/// plugin hook: waiting forever there could deadlock with a thread that holds that lock and waits
/// for one this thread holds.
const NESTED_LOCK_WAIT: Duration = Duration::from_secs(2);

/// A registered plugin instance.
///
/// Field order matters: the plugin is dropped before `library`, whose code it runs on.
pub(crate) struct PluginCell {
    pub(crate) plugin: Mutex<Box<dyn Plugin>>,
    /// The plugin's own context handle (tagged with its id).
    pub(crate) ctx: PluginContext,
    /// True between a successful `on_load` and unload or failure.
    pub(crate) loaded: AtomicBool,
    /// Unique per cell, for the causal chains of queued events.
    pub(crate) key: u64,
    /// Keeps a dynamic plugin's library mapped while the plugin exists.
    pub(crate) library: Option<Keep>,
    pub(crate) library_path: Option<PathBuf>,
}

/// A fresh [`PluginCell::key`].
pub(crate) fn next_key() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

thread_local! {
    /// Cells whose plugin code this thread is currently running.
    static ACTIVE: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Pops the cell from [`ACTIVE`] when the call ends, also on unwind.
struct ActiveGuard(u64);

impl ActiveGuard {
    /// `None` when this thread is already inside the cell's plugin.
    fn enter(cell: &PluginCell) -> Option<ActiveGuard> {
        let key = cell.key;
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
/// `hook` names the call in panic messages. Events `f` publishes are delivered after the plugin's
/// lock is released.
pub(crate) fn call<T>(
    cell: &PluginCell,
    hook: &str,
    f: impl FnOnce(&mut dyn Plugin, &mut PluginContext) -> Result<T>,
) -> Outcome<T> {
    let Some(active) = ActiveGuard::enter(cell) else {
        return Outcome::Busy;
    };
    let scope = HookScope::enter(cell.key, cell.library.clone());
    let outcome = {
        let mut ctx = cell.ctx.clone();
        let mut plugin = cell.plugin.lock();
        let r =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut **plugin, &mut ctx)));
        match r {
            Ok(Ok(v)) => Outcome::Done(v),
            Ok(Err(Error::Plugin { reason, .. })) if reason.starts_with(PANIC_PREFIX) => {
                Outcome::Panicked(reason)
            }
            Ok(Err(e)) => Outcome::Failed(e),
            Err(p) => Outcome::Panicked(format!("{PANIC_PREFIX}{hook}: {}", panic_message(&p))),
        }
    };
    // Lock released; leave the plugin before delivering what it published, so that its own
    // `on_event` is not refused as re-entrant.
    drop(active);
    scope.exit();
    outcome
}

/// Runs host code `f` on the plugin as `&mut dyn Plugin` (typed access). Errors when this thread
/// is already inside the plugin (the lock would deadlock), or when it is inside another plugin's
/// hook and the lock stays taken for [`NESTED_LOCK_WAIT`].
pub(crate) fn with_plugin<R>(
    cell: &PluginCell,
    id: &str,
    f: impl FnOnce(&mut dyn Plugin) -> R,
) -> Result<R> {
    let Some(active) = ActiveGuard::enter(cell) else {
        return Err(Error::Plugin {
            plugin: id.to_string(),
            reason: "is already being called on this thread (re-entrant access)".into(),
        });
    };
    let nested = bus::in_hook();
    let scope = HookScope::enter(cell.key, cell.library.clone());
    let result = {
        let plugin: Option<MutexGuard<'_, Box<dyn Plugin>>> = if nested {
            cell.plugin.try_lock_for(NESTED_LOCK_WAIT)
        } else {
            Some(cell.plugin.lock())
        };
        match plugin {
            Some(mut plugin) => Ok(f(&mut **plugin)),
            None => Err(Error::Plugin {
                plugin: id.to_string(),
                reason: format!(
                    "stayed busy for {NESTED_LOCK_WAIT:?} while this thread runs another \
                     plugin's hook (not waiting longer, which could deadlock)"
                ),
            }),
        }
    };
    drop(active);
    scope.exit();
    result
}

/// The bus handler that feeds `event` to the cell's `on_event` while it is loaded. Holds the
/// cell weakly so an unloaded plugin is freed even if a publish still holds this handler. Events
/// caused by the plugin's own hooks are not fed back to it (Note [Run-to-completion delivery]).
/// A panic is returned as `Err`, and the bus then marks the plugin failed and reports it.
pub(crate) fn delivery(cell: &Arc<PluginCell>) -> Handler {
    let weak: Weak<PluginCell> = Arc::downgrade(cell);
    Arc::new(move |event: &PluginEvent| {
        let Some(cell) = weak.upgrade() else {
            return Ok(());
        };
        if !cell.loaded.load(Ordering::Acquire) || bus::caused_by(cell.key) {
            return Ok(());
        }
        let Some(owner) = cell.ctx.owner().cloned() else {
            return Ok(());
        };
        if owner.is_failed() {
            return Ok(());
        }
        match call(&cell, "on_event", |p, ctx| p.on_event(event, ctx)) {
            Outcome::Done(()) | Outcome::Busy => Ok(()),
            Outcome::Failed(e) => {
                eprintln!(
                    "spiraltorch: plugin {} on_event({}) failed: {e}",
                    owner.id,
                    event.name()
                );
                Ok(())
            }
            Outcome::Panicked(msg) => {
                cell.loaded.store(false, Ordering::Release);
                Err(msg)
            }
        }
    })
}
