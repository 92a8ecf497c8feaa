//! Plugins that publish from inside their handlers, under concurrent ops: two plugins whose
//! `on_event` runs a tensor op (with `receive_tensor_ops`), and two plugins republishing each
//! other's custom events. Four threads run `x.mul(&x)`; the main thread waits with a deadline, so
//! a lock cycle between the plugins fails the test instead of hanging it. The exact event counts
//! check that nothing is lost. The two scenarios use the global bus and, if they deadlocked,
//! would leave stuck plugins on it, so each runs in a child process (see `plugins_support`).

use st_core::events::{global_event_bus, PluginEvent};
use st_core::plugin::{Plugin, PluginContext, PluginMetadata, PluginRegistry};
use st_core::{Device, Result, Tensor};
use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

const THREADS: usize = 4;
const ITERATIONS: usize = 5000;
const DEADLINE: Duration = Duration::from_secs(60);
const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

mod plugins_support;

fn tensor() -> Tensor {
    Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2], &Device::cpu()).unwrap()
}

/// Counts what one plugin received.
#[derive(Default)]
struct Seen {
    tensor_ops: AtomicUsize,
    customs: AtomicUsize,
}

/// Runs `x.mul(&x)` `ITERATIONS` times on each of `THREADS` threads; panics (failing the test)
/// if they do not all finish within [`DEADLINE`].
fn hammer_with_ops() {
    let (tx, rx) = mpsc::channel();
    // All threads start their ops together, so their handlers overlap.
    let start_line = Arc::new(Barrier::new(THREADS));
    for t in 0..THREADS {
        let tx = tx.clone();
        let start_line = start_line.clone();
        std::thread::spawn(move || {
            let x = tensor();
            start_line.wait();
            for _ in 0..ITERATIONS {
                x.mul(&x).unwrap();
            }
            tx.send(t).ok();
        });
    }
    let start = Instant::now();
    for done in 0..THREADS {
        let left = DEADLINE.saturating_sub(start.elapsed());
        if rx.recv_timeout(left).is_err() {
            panic!(
                "deadlock: only {done} of {THREADS} threads finished {ITERATIONS} ops within \
                 {DEADLINE:?}"
            );
        }
    }
}

/// Pattern 1: `on_event` runs a tensor op for every `TensorOp` it receives.
struct OpInHandler {
    id: &'static str,
    y: Tensor,
    seen: Arc<Seen>,
}

impl Plugin for OpInHandler {
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new(self.id, "1.0.0")
    }
    fn on_load(&mut self, ctx: &mut PluginContext) -> Result<()> {
        ctx.receive_tensor_ops();
        Ok(())
    }
    fn on_unload(&mut self, _ctx: &mut PluginContext) -> Result<()> {
        Ok(())
    }
    fn on_event(&mut self, event: &PluginEvent, _ctx: &PluginContext) -> Result<()> {
        if let PluginEvent::TensorOp { .. } = event {
            self.seen.tensor_ops.fetch_add(1, Ordering::SeqCst);
            self.y.mul(&self.y)?;
        }
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Pattern 2: publishes `says` for every `TensorOp` and for every `hears` custom event.
struct Echo {
    id: &'static str,
    hears: &'static str,
    says: &'static str,
    seen: Arc<Seen>,
}

impl Plugin for Echo {
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new(self.id, "1.0.0")
    }
    fn on_load(&mut self, ctx: &mut PluginContext) -> Result<()> {
        ctx.receive_tensor_ops();
        Ok(())
    }
    fn on_unload(&mut self, _ctx: &mut PluginContext) -> Result<()> {
        Ok(())
    }
    fn on_event(&mut self, event: &PluginEvent, ctx: &PluginContext) -> Result<()> {
        match event {
            PluginEvent::TensorOp { .. } => {
                self.seen.tensor_ops.fetch_add(1, Ordering::SeqCst);
            }
            PluginEvent::Custom { event_type, .. } if event_type == self.hears => {
                self.seen.customs.fetch_add(1, Ordering::SeqCst);
            }
            _ => return Ok(()),
        }
        ctx.publish(&PluginEvent::custom(self.says, ()));
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

#[test]
fn plugins_running_ops_in_on_event_do_not_deadlock_under_concurrent_ops() {
    plugins_support::run_in_child("ops_in_on_event", false, CHILD_TIMEOUT);
}

#[test]
fn plugins_republishing_each_others_events_do_not_deadlock_under_concurrent_ops() {
    plugins_support::run_in_child("republish", false, CHILD_TIMEOUT);
}

/// The child side: does nothing unless started by `run_in_child`.
#[test]
fn child_case() {
    let Some(case) = plugins_support::child_case() else {
        return;
    };
    match case.as_str() {
        "ops_in_on_event" => ops_in_on_event(),
        "republish" => republish(),
        other => panic!("unknown case {other}"),
    }
    plugins_support::child_passed(&case);
}

fn ops_in_on_event() {
    let registry = PluginRegistry::with_event_bus(global_event_bus().clone());
    let (a, b) = (Arc::new(Seen::default()), Arc::new(Seen::default()));
    for (id, seen) in [("op_a", &a), ("op_b", &b)] {
        let plugin = OpInHandler {
            id,
            y: tensor(),
            seen: seen.clone(),
        };
        registry.register(Box::new(plugin)).unwrap();
    }
    registry.initialize_all().unwrap();
    hammer_with_ops();
    registry.shutdown().unwrap();
    // Per top-level op: both plugins receive it; each one's op reaches the other, whose op in
    // turn is caused by both and reaches neither. So each plugin sees two ops per top-level op.
    let top = THREADS * ITERATIONS;
    assert_eq!(a.tensor_ops.load(Ordering::SeqCst), 2 * top);
    assert_eq!(b.tensor_ops.load(Ordering::SeqCst), 2 * top);
}

fn republish() {
    let registry = PluginRegistry::with_event_bus(global_event_bus().clone());
    let (c, d) = (Arc::new(Seen::default()), Arc::new(Seen::default()));
    for (id, hears, says, seen) in [
        ("echo_c", "from_d", "from_c", &c),
        ("echo_d", "from_c", "from_d", &d),
    ] {
        let plugin = Echo {
            id,
            hears,
            says,
            seen: seen.clone(),
        };
        registry.register(Box::new(plugin)).unwrap();
    }
    registry.initialize_all().unwrap();
    hammer_with_ops();
    registry.shutdown().unwrap();
    // Per top-level op: both hear it and publish; each hears the other's event once and answers;
    // the answers were caused by both plugins and reach neither.
    let top = THREADS * ITERATIONS;
    for seen in [&c, &d] {
        assert_eq!(seen.tensor_ops.load(Ordering::SeqCst), top);
        assert_eq!(seen.customs.load(Ordering::SeqCst), top);
    }
}

#[test]
fn events_published_in_on_event_reach_others_after_the_current_event() {
    let registry = PluginRegistry::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    registry.event_bus().subscribe(
        "*",
        Arc::new(move |e| l.lock().unwrap().push(e.name().to_string())),
    );
    let (c, d) = (Arc::new(Seen::default()), Arc::new(Seen::default()));
    for (id, hears, says, seen) in [
        ("echo_c", "from_d", "from_c", &c),
        ("echo_d", "from_c", "from_d", &d),
    ] {
        let plugin = Echo {
            id,
            hears,
            says,
            seen: seen.clone(),
        };
        registry.register(Box::new(plugin)).unwrap();
    }
    registry.initialize_all().unwrap();
    log.lock().unwrap().clear();
    registry
        .event_bus()
        .publish(&PluginEvent::custom("from_c", ()));
    // echo_d hears from_c and answers from_d, delivered after from_c; echo_c hears that and
    // answers from_c, which was caused by both and so reaches only the plain subscriber.
    assert_eq!(*log.lock().unwrap(), ["from_c", "from_d", "from_c"]);
    assert_eq!(c.customs.load(Ordering::SeqCst), 1);
    assert_eq!(d.customs.load(Ordering::SeqCst), 1);
}
