//! The per-plugin state the event bus tags subscriptions with: failure, unload, the dynamic
//! library to keep mapped. The plugin registry creates it; the bus and dispatcher read it.

use super::bus_core::Keep;
use super::event::PluginEventBus;
use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, Weak};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Per-plugin state shared by its context handle, its bus handle, its subscriptions and the
/// registry.
pub(crate) struct Owner {
    pub(crate) id: String,
    /// Untagged handle on the plugin's bus, to remove its subscriptions.
    pub(crate) bus: PluginEventBus,
    pub(crate) failed: AtomicBool,
    /// Set when the plugin unloads: its handle accepts no new subscriptions.
    pub(crate) closed: AtomicBool,
    pub(crate) failure: Mutex<Option<String>>,
    pub(crate) wants_tensor_ops: AtomicBool,
    /// The dynamic plugin's library, held weakly: only host structures (subscriptions, deliveries
    /// in flight, queued events, services) hold it strongly, never the plugin's own objects, so
    /// that the library is never closed from inside its own code.
    pub(crate) library: Option<Weak<dyn Any + Send + Sync>>,
}

impl Owner {
    /// True once the plugin failed (one atomic load).
    #[inline]
    pub(crate) fn is_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// The failure message, if the plugin failed.
    pub(crate) fn failure(&self) -> Option<String> {
        lock(&self.failure).clone()
    }

    /// Marks the plugin failed (the first message wins) and removes all its subscriptions.
    pub(crate) fn fail(&self, message: String) {
        {
            let mut f = lock(&self.failure);
            if f.is_none() {
                eprintln!("spiraltorch: plugin {} failed: {message}", self.id);
                *f = Some(message);
            }
            self.failed.store(true, Ordering::Release);
        }
        self.unsubscribe_all();
    }

    /// Marks the plugin unloaded (no new subscriptions) and removes all its subscriptions.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.unsubscribe_all();
    }

    /// Removes every subscription owned by this plugin.
    pub(crate) fn unsubscribe_all(&self) {
        self.bus.remove_owned(self);
    }

    /// What a new subscription, queued event or service of this plugin must hold to keep its
    /// library mapped (`None` for a static plugin).
    ///
    /// # Errors
    /// A message when the plugin has been unloaded or has failed.
    pub(crate) fn keepalive(&self) -> std::result::Result<Option<Keep>, String> {
        if self.closed.load(Ordering::Acquire) {
            return Err(format!("plugin {} has been unloaded", self.id));
        }
        if self.is_failed() {
            return Err(format!("plugin {} has failed", self.id));
        }
        match &self.library {
            None => Ok(None),
            Some(weak) => weak
                .upgrade()
                .map(Some)
                .ok_or_else(|| format!("the library of plugin {} is closed", self.id)),
        }
    }

    /// Whether the plugin asked for `TensorOp` events in `on_event`.
    pub(crate) fn wants_tensor_ops(&self) -> bool {
        self.wants_tensor_ops.load(Ordering::Acquire)
    }
}
