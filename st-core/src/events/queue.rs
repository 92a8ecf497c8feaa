//! The per-thread side of the bus: the queue of events published while the thread delivers or
//! runs a plugin hook, the hooks running, the causal chain and depth of the event being
//! delivered, and fault reports. See Note [Run-to-completion delivery] in `bus.rs`.

use super::bus_core::{BusCore, Keep};
use super::event::{PluginEvent, PluginFault, FAULT_EVENT, MAX_PUBLISH_DEPTH};
use super::owner::Owner;
use smallvec::SmallVec;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::Arc;

/// A plugin hook running on this thread.
struct Hook {
    key: u64,
    keep: Option<Keep>,
}

/// Why an event is being delivered: see Note [Run-to-completion delivery].
#[derive(Clone, Default)]
struct Cause {
    depth: usize,
    /// Keys of the plugins whose hooks (transitively) published the event.
    chain: SmallVec<[u64; 4]>,
    /// Libraries the event's payload or publisher may live in.
    keep: SmallVec<[Keep; 2]>,
    /// The event is a fault report or was caused by one.
    fault_cascade: bool,
}

impl Cause {
    fn add_keep(&mut self, k: &Keep) {
        let p = Arc::as_ptr(k).cast::<()>();
        if !self.keep.iter().any(|x| Arc::as_ptr(x).cast::<()>() == p) {
            self.keep.push(k.clone());
        }
    }
}

/// A queued event. Field order: the event (which may hold plugin data) drops before the cause
/// (which keeps the plugin's library mapped).
struct Deferred {
    core: Arc<dyn BusCore>,
    event: PluginEvent,
    cause: Cause,
}

#[derive(Default)]
struct ThreadState {
    /// A delivery loop runs on this thread.
    delivering: bool,
    /// Cause of the event being delivered.
    current: Cause,
    /// Plugin hooks running on this thread, innermost last.
    hooks: Vec<Hook>,
    /// Keep-alives of the subscriptions the current delivery calls.
    target_keeps: Vec<Keep>,
    queue: VecDeque<Deferred>,
}

thread_local! {
    static THREAD: RefCell<ThreadState> = RefCell::new(ThreadState::default());
}

/// Runs `f` on this thread's state; `None` while the thread is being torn down (or, which this
/// module never does, while the state is borrowed). `f` must not call user code.
fn with_state<R>(f: impl FnOnce(&mut ThreadState) -> R) -> Option<R> {
    THREAD
        .try_with(|t| t.try_borrow_mut().ok().map(|mut t| f(&mut t)))
        .ok()
        .flatten()
}

pub(super) enum Entry {
    Queued,
    TooDeep(usize),
    TopLevel(Delivering),
    NoThreadState,
}

pub(super) fn enter_publish(
    me: &Arc<dyn BusCore>,
    event: &PluginEvent,
    publisher: Option<&Arc<Owner>>,
) -> Entry {
    let entry = with_state(|t| {
        if !t.delivering && t.hooks.is_empty() {
            t.delivering = true;
            return Entry::TopLevel(Delivering(()));
        }
        let publisher_keep = publisher.and_then(|o| o.keepalive().ok().flatten());
        let mut cause = t.current.clone();
        cause.depth += 1;
        if cause.depth > MAX_PUBLISH_DEPTH {
            return Entry::TooDeep(cause.depth);
        }
        for h in &t.hooks {
            if !cause.chain.contains(&h.key) {
                cause.chain.push(h.key);
            }
            if let Some(k) = &h.keep {
                cause.add_keep(k);
            }
        }
        for k in t.target_keeps.iter().chain(publisher_keep.as_ref()) {
            cause.add_keep(k);
        }
        t.queue.push_back(Deferred {
            core: me.clone(),
            event: event.clone(),
            cause,
        });
        Entry::Queued
    });
    entry.unwrap_or(Entry::NoThreadState)
}

/// Writes `fault` to stderr and queues it as a [`FAULT_EVENT`] (unless it arose from one).
pub(super) fn report(me: &Arc<dyn BusCore>, fault: PluginFault) {
    eprintln!("spiraltorch: event bus: {fault}");
    with_state(|t| {
        if t.current.fault_cascade {
            return;
        }
        let cause = Cause {
            depth: 0,
            chain: t.current.chain.clone(),
            keep: SmallVec::new(),
            fault_cascade: true,
        };
        t.queue.push_back(Deferred {
            core: me.clone(),
            event: PluginEvent::custom(FAULT_EVENT, fault),
            cause,
        });
    });
    drain_if_idle();
}

/// This thread runs a delivery loop until dropped.
pub(super) struct Delivering(());

impl Delivering {
    /// Delivers the queue, in order, until it is empty.
    pub(super) fn drain(self) {
        loop {
            let next = with_state(|t| {
                let d = t.queue.pop_front()?;
                let previous = std::mem::replace(&mut t.current, d.cause);
                Some((d.core, d.event, previous))
            })
            .flatten();
            let Some((core, event, previous)) = next else {
                break;
            };
            // Dropped outside the state borrow: the last keep-alive may close a library.
            drop(previous);
            core.deliver(&core, &event);
            drop(event);
        }
    }
}

impl Drop for Delivering {
    fn drop(&mut self) {
        let cause = with_state(|t| {
            t.delivering = false;
            std::mem::take(&mut t.current)
        });
        drop(cause);
    }
}

/// Starts a delivery loop when this thread is idle (no delivery, no hook) and has queued events.
fn drain_if_idle() {
    let start = with_state(|t| {
        let idle = !t.delivering && t.hooks.is_empty() && !t.queue.is_empty();
        if idle {
            t.delivering = true;
        }
        idle
    });
    if start == Some(true) {
        Delivering(()).drain();
    }
}

/// Keep-alives of the subscriptions being called, popped when dropped.
pub(super) struct TargetKeeps(usize);

impl TargetKeeps {
    pub(super) fn push<'a>(keeps: impl Iterator<Item = &'a Keep>) -> TargetKeeps {
        let keeps: SmallVec<[Keep; 2]> = keeps.cloned().collect();
        if keeps.is_empty() {
            return TargetKeeps(0);
        }
        let n = keeps.len();
        let pushed = with_state(|t| t.target_keeps.extend(keeps)).is_some();
        TargetKeeps(if pushed { n } else { 0 })
    }
}

impl Drop for TargetKeeps {
    fn drop(&mut self) {
        if self.0 == 0 {
            return;
        }
        let popped = with_state(|t| {
            let at = t.target_keeps.len().saturating_sub(self.0);
            t.target_keeps.split_off(at)
        });
        drop(popped);
    }
}

/// A plugin hook running on this thread (see Note [Run-to-completion delivery]): events
/// published until [`HookScope::exit`] are queued, and delivered by `exit` once the thread is
/// idle. Enter it before taking the plugin's lock and exit after releasing it.
pub(crate) struct HookScope {
    pushed: bool,
}

impl HookScope {
    /// Enters the hook of the plugin with `key`, whose code `keep` keeps mapped.
    pub(crate) fn enter(key: u64, keep: Option<Keep>) -> HookScope {
        let pushed = with_state(|t| t.hooks.push(Hook { key, keep })).is_some();
        HookScope { pushed }
    }

    /// Leaves the hook and, when the thread is idle, delivers what it queued.
    pub(crate) fn exit(self) {
        drop(self);
        drain_if_idle();
    }
}

impl Drop for HookScope {
    fn drop(&mut self) {
        if self.pushed {
            let hook = with_state(|t| t.hooks.pop()).flatten();
            drop(hook);
        }
    }
}

/// True when this thread runs a plugin hook.
pub(crate) fn in_hook() -> bool {
    with_state(|t| !t.hooks.is_empty()).unwrap_or(false)
}

/// True when the event being delivered on this thread was caused by a hook of plugin `key`, or
/// such a hook is running on this thread: the registry then skips that plugin's `on_event`.
pub(crate) fn caused_by(key: u64) -> bool {
    with_state(|t| t.current.chain.contains(&key) || t.hooks.iter().any(|h| h.key == key))
        .unwrap_or(false)
}
