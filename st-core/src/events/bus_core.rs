//! The engine behind [`PluginEventBus`](crate::events::PluginEventBus) handles: the subscriber
//! table, ownership and library keep-alives of subscriptions, and delivery (with the per-thread
//! queue of `bus_queue.rs`).
//!
//! Note [Run-to-completion delivery]: every thread delivers one event at a time. A publish made
//! while the thread is already delivering an event (from a subscriber, from `on_event`, from an op
//! run inside either) or while it runs a plugin hook (`on_load`, `on_unload`, `on_event`, typed
//! access through `with_plugin`) is appended to the thread's queue and returns at once; the
//! outermost publish (or the outermost hook, once it has returned and released its plugin's lock)
//! delivers the queue in FIFO order on the same thread. Hence:
//! - no thread delivers an event while it holds a plugin lock, so two plugins that publish (or run
//!   ops) from their handlers can never wait for each other's locks (no ABBA deadlock);
//! - the stack does not grow with a chain of republished events;
//! - each queued event remembers the plugins whose hooks caused it (its chain); it is not
//!   delivered to the `on_event` of a plugin in its chain, so a plugin never receives, directly or
//!   through other plugins, what its own hook published (the old re-entrancy rule, made causal);
//! - a queued event has a depth (one more than the event whose delivery published it); one deeper
//!   than [`MAX_PUBLISH_DEPTH`] is dropped and reported, so a subscriber republishing what it
//!   receives stops after a bounded number of rounds instead of looping or overflowing the stack.
//!
//! Faults (a panicking subscriber, a dropped event) are written to stderr and queued as a
//! [`FAULT_EVENT`] custom event carrying a [`PluginFault`]; faults raised while delivering a fault
//! event, or anything it caused, go to stderr only, so fault reporting cannot feed itself.
//!
//! Note [Keeping plugin libraries mapped]: a subscription made by a dynamic plugin holds an
//! `Arc` of the plugin's library, and so does every delivery in flight (the snapshot a publish
//! takes) and every queued event that plugin code published. Unloading removes the subscriptions
//! but never closes the library itself: the last of those `Arc`s to go closes it, which happens in
//! host code after the last call into the library has returned. Handler fields are declared
//! before the keep-alive fields so the plugin's closures are dropped while its code is mapped.

use super::event::{FaultKind, PluginEvent, PluginFault, SubscriptionId, MAX_PUBLISH_DEPTH};
use super::owner::Owner;
use super::queue::{enter_publish, report, Entry, TargetKeeps};
use smallvec::SmallVec;
use std::any::Any;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

/// A contained subscriber: `Err` carries the reason when the callback panicked (caught on the
/// subscriber's side, see `PluginEventBus::subscribe`).
pub(crate) type Handler = Arc<dyn Fn(&PluginEvent) -> Result<(), String> + Send + Sync>;

/// Something that keeps a plugin library mapped while it is held.
pub(crate) type Keep = Arc<dyn Any + Send + Sync>;

/// Which events a subscription receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Filter {
    /// Events whose [`PluginEvent::name`] equals the string.
    Name(String),
    /// Every event (`"*"`).
    All,
    /// Every event except `TensorOp`; does not make the dispatcher publish.
    AllButTensorOp,
}

impl Filter {
    pub(crate) fn from_pattern(pattern: &str) -> Filter {
        if pattern == "*" {
            Filter::All
        } else {
            Filter::Name(pattern.to_string())
        }
    }

    fn matches(&self, name: &str, is_tensor_op: bool) -> bool {
        match self {
            Filter::Name(n) => n == name,
            Filter::All => true,
            Filter::AllButTensorOp => !is_tensor_op,
        }
    }

    fn hears_tensor_op(&self) -> bool {
        match self {
            Filter::Name(n) => n == "TensorOp",
            Filter::All => true,
            Filter::AllButTensorOp => false,
        }
    }
}

/// What a bus handle calls. The one implementation, [`HostBus`], is created by the host, so a
/// dynamic plugin calling methods of the host's bus runs the host's code (and thread-local
/// queue) through this vtable rather than its own copy of st-core.
pub(crate) trait BusCore: Send + Sync {
    /// Adds a subscription (refused, with a message on stderr, for an unloaded or failed owner).
    fn add(&self, filter: Filter, handler: Handler, owner: Option<&Arc<Owner>>) -> SubscriptionId;
    /// Removes a subscription; returns whether it existed.
    fn remove(&self, id: SubscriptionId) -> bool;
    /// Removes every subscription of `owner`; returns how many.
    fn remove_owned(&self, owner: &Owner) -> usize;
    /// Number of subscriptions.
    fn subscriber_count(&self) -> usize;
    /// True when a subscription hears `TensorOp`.
    fn has_tensor_op_listeners(&self) -> bool;
    /// Publishes `event` (see Note [Run-to-completion delivery]); `publisher` is the plugin
    /// owning the handle it was published through.
    fn publish(&self, me: &Arc<dyn BusCore>, event: &PluginEvent, publisher: Option<&Arc<Owner>>);
    /// Delivers `event` to the current subscribers, now.
    fn deliver(&self, me: &Arc<dyn BusCore>, event: &PluginEvent);
}

/// Where a bus counts its `TensorOp` listeners (see Note [Bus locks across plugin libraries] in
/// `events.rs`).
pub(crate) enum Counter {
    /// The global bus counts into the host's static, which the dispatcher reads.
    Static(&'static AtomicUsize),
    /// Any other bus counts into its own field.
    Owned(AtomicUsize),
}

impl Counter {
    #[inline]
    fn get(&self) -> &AtomicUsize {
        match self {
            Counter::Static(c) => c,
            Counter::Owned(c) => c,
        }
    }
}

/// One subscription. Field order: see Note [Keeping plugin libraries mapped].
struct Subscriber {
    id: SubscriptionId,
    filter: Filter,
    handler: Handler,
    owner: Option<Arc<Owner>>,
    keep: Option<Keep>,
}

/// A subscription as a publish snapshots it. Field order as in [`Subscriber`].
struct Target {
    id: SubscriptionId,
    handler: Handler,
    owner: Option<Arc<Owner>>,
    keep: Option<Keep>,
}

/// The host's bus.
pub(crate) struct HostBus {
    subscribers: RwLock<Vec<Subscriber>>,
    next_id: AtomicU64,
    tensor_op_listeners: Counter,
}

impl HostBus {
    pub(crate) fn new(counter: Counter) -> HostBus {
        HostBus {
            subscribers: RwLock::new(Vec::new()),
            next_id: AtomicU64::new(0),
            tensor_op_listeners: counter,
        }
    }

    /// A subscriber's callback panicked: unsubscribe it (a plugin's: fail the plugin, which
    /// removes all of its subscriptions) and report.
    fn contain_failure(&self, me: &Arc<dyn BusCore>, target: &Target, event: &str, reason: String) {
        let (plugin, outcome) = match &target.owner {
            Some(owner) => {
                owner.fail(reason.clone());
                (Some(owner.id.clone()), "plugin marked failed")
            }
            None => {
                self.remove(target.id);
                (None, "unsubscribed")
            }
        };
        report(
            me,
            PluginFault {
                kind: FaultKind::SubscriberPanicked,
                plugin,
                event: event.to_string(),
                reason: format!("{reason} ({outcome})"),
            },
        );
    }
}

impl BusCore for HostBus {
    fn add(&self, filter: Filter, handler: Handler, owner: Option<&Arc<Owner>>) -> SubscriptionId {
        let id = SubscriptionId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let mut subs = self.subscribers.write().unwrap_or_else(|e| e.into_inner());
        // Checked under the write lock: `Owner::close` flags first, then removes under this lock.
        let keep = match owner.map(|o| o.keepalive()) {
            None => None,
            Some(Ok(keep)) => keep,
            Some(Err(why)) => {
                drop(subs);
                eprintln!("spiraltorch: subscription ignored: {why}");
                return id;
            }
        };
        if filter.hears_tensor_op() {
            self.tensor_op_listeners
                .get()
                .fetch_add(1, Ordering::Release);
        }
        subs.push(Subscriber {
            id,
            filter,
            handler,
            owner: owner.cloned(),
            keep,
        });
        id
    }

    fn remove(&self, id: SubscriptionId) -> bool {
        let removed = {
            let mut subs = self.subscribers.write().unwrap_or_else(|e| e.into_inner());
            let Some(pos) = subs.iter().position(|s| s.id == id) else {
                return false;
            };
            subs.remove(pos)
        };
        if removed.filter.hears_tensor_op() {
            self.tensor_op_listeners
                .get()
                .fetch_sub(1, Ordering::Release);
        }
        // Dropped here, outside the lock: a plugin closure's destructor may use the bus.
        drop(removed);
        true
    }

    fn remove_owned(&self, owner: &Owner) -> usize {
        let removed: Vec<Subscriber> = {
            let mut subs = self.subscribers.write().unwrap_or_else(|e| e.into_inner());
            let (mine, rest): (Vec<Subscriber>, Vec<Subscriber>) = std::mem::take(&mut *subs)
                .into_iter()
                .partition(|s| s.owner.as_deref().is_some_and(|o| std::ptr::eq(o, owner)));
            *subs = rest;
            mine
        };
        let listening = removed
            .iter()
            .filter(|s| s.filter.hears_tensor_op())
            .count();
        self.tensor_op_listeners
            .get()
            .fetch_sub(listening, Ordering::Release);
        removed.len()
    }

    fn subscriber_count(&self) -> usize {
        self.subscribers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    fn has_tensor_op_listeners(&self) -> bool {
        self.tensor_op_listeners.get().load(Ordering::Acquire) != 0
    }

    fn publish(&self, me: &Arc<dyn BusCore>, event: &PluginEvent, publisher: Option<&Arc<Owner>>) {
        match enter_publish(me, event, publisher) {
            Entry::Queued => {}
            Entry::TooDeep(depth) => report(
                me,
                PluginFault {
                    kind: FaultKind::DepthExceeded,
                    plugin: publisher.map(|o| o.id.clone()),
                    event: event.name().to_string(),
                    reason: format!(
                        "dropped: published at depth {depth}, more than {MAX_PUBLISH_DEPTH} \
                         nested publishes (a subscriber republishes what it receives?)"
                    ),
                },
            ),
            Entry::TopLevel(delivering) => {
                self.deliver(me, event);
                delivering.drain();
            }
            Entry::NoThreadState => self.deliver(me, event),
        }
    }

    fn deliver(&self, me: &Arc<dyn BusCore>, event: &PluginEvent) {
        let name = event.name();
        let is_tensor_op = matches!(event, PluginEvent::TensorOp { .. });
        let targets: SmallVec<[Target; 8]> = self
            .subscribers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|s| s.filter.matches(name, is_tensor_op))
            .map(|s| Target {
                id: s.id,
                handler: s.handler.clone(),
                owner: s.owner.clone(),
                keep: s.keep.clone(),
            })
            .collect();
        // Events published by plugin code from these callbacks keep its library mapped.
        let _keeps = TargetKeeps::push(targets.iter().filter_map(|t| t.keep.as_ref()));
        for target in &targets {
            if target.owner.as_ref().is_some_and(|o| o.is_failed()) {
                continue;
            }
            if let Err(reason) = (target.handler)(event) {
                self.contain_failure(me, target, name, reason);
            }
        }
    }
}
