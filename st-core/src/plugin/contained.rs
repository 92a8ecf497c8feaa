//! [`Contained`]: the wrapper `declare_plugin!` puts around a dynamic plugin so that no panic
//! leaves the plugin's own Rust runtime (Note [Dynamic plugin ABI] in `declare.rs`). Every method
//! the host can call, and the plugin's destructor, catch their panics on the plugin's side.

use super::context::PluginContext;
use super::invoke::PANIC_PREFIX;
use super::metadata::PluginMetadata;
use super::traits::Plugin;
use crate::error::{Error, Result};
use crate::events::{panic_message, PluginEvent};
use std::any::Any;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A plugin whose hooks catch their own panics and report them as `Error::Plugin`
/// ("panicked in on_load: ..."), for plugins living in another Rust runtime.
pub struct Contained<P> {
    inner: ManuallyDrop<P>,
    metadata: PluginMetadata,
}

impl<P: Plugin + 'static> Contained<P> {
    /// Wraps `inner`, caching its metadata.
    pub fn new(inner: P) -> Self {
        let metadata = inner.metadata();
        Contained {
            inner: ManuallyDrop::new(inner),
            metadata,
        }
    }

    /// The wrapped plugin.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The id the wrapped plugin reported.
    pub(crate) fn id(&self) -> &str {
        &self.metadata.id
    }
}

impl<P: Plugin + 'static> Plugin for Contained<P> {
    fn metadata(&self) -> PluginMetadata {
        self.metadata.clone()
    }

    fn on_load(&mut self, ctx: &mut PluginContext) -> Result<()> {
        let inner = &mut *self.inner;
        guard(&self.metadata.id, "on_load", || inner.on_load(ctx))
    }

    fn on_unload(&mut self, ctx: &mut PluginContext) -> Result<()> {
        let inner = &mut *self.inner;
        guard(&self.metadata.id, "on_unload", || inner.on_unload(ctx))
    }

    fn on_event(&mut self, event: &PluginEvent, ctx: &PluginContext) -> Result<()> {
        let inner = &mut *self.inner;
        guard(&self.metadata.id, "on_event", || inner.on_event(event, ctx))
    }

    /// The plugin's `as_any`; if that panics, the cached metadata (so typed access reports a
    /// type mismatch instead of unwinding into the host).
    fn as_any(&self) -> &dyn Any {
        let inner = &*self.inner;
        match catch_unwind(AssertUnwindSafe(move || inner.as_any())) {
            Ok(any) => any,
            Err(p) => {
                report(&self.metadata.id, "as_any", &p);
                &self.metadata
            }
        }
    }

    /// As `as_any`, mutably.
    fn as_any_mut(&mut self) -> &mut dyn Any {
        let inner = &mut *self.inner;
        match catch_unwind(AssertUnwindSafe(move || {
            let inner = inner; // moved in, so the closure is FnOnce and may return the borrow
            inner.as_any_mut()
        })) {
            Ok(any) => any,
            Err(p) => {
                report(&self.metadata.id, "as_any_mut", &p);
                &mut self.metadata
            }
        }
    }
}

impl<P> Drop for Contained<P> {
    fn drop(&mut self) {
        let inner = &mut self.inner;
        // SAFETY: `inner` is dropped exactly once, here, and never used afterwards.
        let r = catch_unwind(AssertUnwindSafe(|| unsafe { ManuallyDrop::drop(inner) }));
        if let Err(p) = r {
            report(&self.metadata.id, "drop", &p);
        }
    }
}

fn report(id: &str, hook: &str, p: &Box<dyn Any + Send>) {
    eprintln!(
        "spiraltorch: plugin {id} {PANIC_PREFIX}{hook}: {}",
        panic_message(p)
    );
}

fn guard<R>(id: &str, hook: &str, f: impl FnOnce() -> Result<R>) -> Result<R> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
        Err(Error::Plugin {
            plugin: id.to_string(),
            reason: format!("{PANIC_PREFIX}{hook}: {}", panic_message(&p)),
        })
    })
}
