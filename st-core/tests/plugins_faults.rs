//! Plugin fault matrix: plugins and libraries that misbehave must be contained, reported, and
//! leave a host that still loads a good plugin afterwards.
//!
//! Faults that used to kill the process (abort on a foreign panic, SIGSEGV in unmapped code,
//! SIGBUS in `dlopen`, stack overflow) run in a child process: the parent re-runs this test
//! binary with `--exact child_case` and `ST_TEST_CASE=<case>`, so a regression fails the case
//! instead of killing the test harness. The fixture libraries come from
//! `examples/plugins/{fault-fixture,bad-declaration,op-counter}`.

use st_core::events::{FaultKind, PluginEvent, PluginEventBus, PluginFault, FAULT_EVENT};
use st_core::plugin::{DynamicPluginLoader, PluginRegistry, PluginState, MAX_PUBLISH_DEPTH};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod plugins_support;
use plugins_support::{copy_as, library, temp_dir};

const FIXTURE: &str = "fault_fixture";
const MODE: &str = "fault_fixture.mode";
const HITS: &str = "fault_fixture.hits";
const GATE: &str = "fault_fixture.gate";
const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

fn run_case(case: &str) {
    plugins_support::run_in_child(case, true, CHILD_TIMEOUT);
}

#[test]
fn dynamic_plugin_bus_callback_panic_is_contained() {
    run_case("bus_panic");
}

#[test]
fn dynamic_plugin_subscription_left_behind_is_removed_at_unload() {
    run_case("leak");
}

#[test]
fn unload_during_a_blocked_publish_keeps_the_library_until_it_returns() {
    run_case("block");
}

#[test]
fn self_republishing_dynamic_subscriber_is_bounded() {
    run_case("echo");
}

#[test]
fn self_republishing_host_subscribers_are_bounded() {
    run_case("host_echo");
}

#[test]
fn truncated_library_is_refused() {
    run_case("truncated");
}

#[test]
fn truncated_library_in_a_plugin_directory_is_refused() {
    run_case("truncated_dir");
}

#[test]
fn malformed_declaration_with_valid_abi_version_is_refused() {
    run_case("bad_declaration");
}

/// The child side: does nothing unless started by [`run_case`].
#[test]
fn child_case() {
    let Some(case) = plugins_support::child_case() else {
        return;
    };
    let dir = temp_dir(&format!("fault-child-{case}"));
    match case.as_str() {
        "bus_panic" => bus_panic(&dir),
        "leak" => leak(&dir),
        "block" => block(&dir),
        "echo" => echo(&dir),
        "host_echo" => host_echo(),
        "truncated" => truncated(&dir),
        "truncated_dir" => truncated_dir(&dir),
        "bad_declaration" => bad_declaration(&dir),
        other => panic!("unknown fault case {other}"),
    }
    std::fs::remove_dir_all(&dir).ok();
    plugins_support::child_passed(&case);
}

// ---- helpers (child side) ----

type Faults = Arc<Mutex<Vec<PluginFault>>>;

fn collect_faults(bus: &PluginEventBus) -> Faults {
    let faults = Faults::default();
    let f = faults.clone();
    bus.subscribe(
        FAULT_EVENT,
        Arc::new(move |e| {
            if let Some(fault) = e.custom_data::<PluginFault>() {
                f.lock().unwrap().push(fault.clone());
            }
        }),
    );
    faults
}

/// A registry with the fixture loaded from a copy of its library, in `mode`.
fn fixture(dir: &Path, mode: &str) -> (PluginRegistry, PathBuf) {
    let r = PluginRegistry::new();
    r.context().set_config(MODE, mode);
    let lib = copy_as(&library("fault-fixture"), dir, &format!("fixture_{mode}"));
    let id = DynamicPluginLoader::new().load_file(&lib, &r).unwrap();
    assert_eq!(id, FIXTURE);
    (r, lib)
}

fn counter(r: &PluginRegistry, name: &str) -> Arc<AtomicUsize> {
    let c = Arc::new(AtomicUsize::new(0));
    r.context().register_service(name, c.clone());
    c
}

/// Whether `lib` is mapped into this process (`None` where that cannot be told).
fn mapped(lib: &Path) -> Option<bool> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    Some(maps.contains(lib.to_str()?))
}

/// Loads op-counter into `r` from a fresh copy, checks that it counts an op event, and unloads it.
fn good_plugin_still_loads(r: &PluginRegistry, dir: &Path) {
    type OpCounts = Arc<Mutex<BTreeMap<String, u64>>>;
    let lib = copy_as(&library("op-counter"), dir, "good_op_counter");
    let id = DynamicPluginLoader::new().load_file(&lib, r).unwrap();
    r.initialize_all().unwrap();
    assert!(r.is_loaded(&id));
    let counts: OpCounts = r.context().get_service("op_counts").unwrap();
    r.event_bus().publish(&PluginEvent::TensorOp {
        op: "add",
        backend: "cpu",
        dtype: "f32",
        input_shapes: vec![vec![2], vec![2]],
        output_shape: vec![2],
        duration_ns: 1,
    });
    assert_eq!(counts.lock().unwrap().get("add"), Some(&1));
    drop(counts);
    r.unload(&id).unwrap();
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

// ---- cases ----

/// A dynamic plugin's panicking callback, subscribed through the public `ctx.event_bus` field:
/// the panic is caught inside the plugin's runtime, the plugin is marked failed and loses its
/// subscriptions, and a fault is published (it used to abort: "Rust cannot catch foreign
/// exceptions").
fn bus_panic(dir: &Path) {
    let (r, _lib) = fixture(dir, "bus_panic");
    let faults = collect_faults(r.event_bus());
    let before = r.event_bus().subscriber_count();
    r.initialize_all().unwrap();
    assert_eq!(
        r.event_bus().subscriber_count(),
        before + 2,
        "delivery + callback"
    );
    r.event_bus()
        .publish(&PluginEvent::custom("fault.ping", ()));
    match r.state(FIXTURE) {
        Some(PluginState::Failed(m)) => assert!(m.contains("bus callback panicked"), "{m}"),
        other => panic!("expected the fixture to fail, got {other:?}"),
    }
    let got = faults.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].kind, FaultKind::SubscriberPanicked);
    assert_eq!(got[0].plugin.as_deref(), Some(FIXTURE));
    assert_eq!(got[0].event, "fault.ping");
    assert_eq!(r.event_bus().subscriber_count(), before);
    r.event_bus()
        .publish(&PluginEvent::custom("fault.ping", ()));
    assert_eq!(faults.lock().unwrap().len(), 1);
    r.unload(FIXTURE).unwrap();
    good_plugin_still_loads(&r, dir);
}

/// A callback subscribed through `ctx.event_bus` and never unsubscribed is removed when its
/// plugin unloads, before the library closes (the next publish used to crash with SIGSEGV).
fn leak(dir: &Path) {
    let (r, lib) = fixture(dir, "leak");
    let hits = counter(&r, HITS);
    let before = r.event_bus().subscriber_count();
    r.initialize_all().unwrap();
    let ping = PluginEvent::custom("fault.ping", ());
    r.event_bus().publish(&ping);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_ne!(mapped(&lib), Some(false));
    r.unload(FIXTURE).unwrap();
    assert_eq!(r.event_bus().subscriber_count(), before);
    // The library really is closed, so a leftover callback would call unmapped code.
    assert_ne!(
        mapped(&lib),
        Some(true),
        "library still mapped after unload"
    );
    r.event_bus().publish(&ping);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    good_plugin_still_loads(&r, dir);
}

/// Unloading while another thread's publish is blocked inside the plugin returns at once and
/// leaves the library mapped until that call returns (it used to wait 5 s, close the library,
/// and let the pending call return into unmapped code).
fn block(dir: &Path) {
    let (r, lib) = fixture(dir, "block");
    let gate = counter(&r, GATE);
    r.initialize_all().unwrap();
    let bus = r.event_bus().clone();
    let publisher =
        std::thread::spawn(move || bus.publish(&PluginEvent::custom("fault.block", ())));
    wait_for("the fixture's callback to block", || {
        gate.load(Ordering::SeqCst) == 1
    });
    let start = Instant::now();
    r.unload(FIXTURE).unwrap();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(2), "unload waited {took:?}");
    assert!(r.get(FIXTURE).is_none());
    assert_ne!(
        mapped(&lib),
        Some(false),
        "library closed under a running call"
    );
    gate.store(2, Ordering::SeqCst);
    publisher.join().unwrap();
    assert_eq!(gate.load(Ordering::SeqCst), 3);
    assert_ne!(
        mapped(&lib),
        Some(true),
        "library still mapped after the last call returned"
    );
    good_plugin_still_loads(&r, dir);
}

/// A dynamic plugin's subscriber republishing every event it receives stops after
/// `MAX_PUBLISH_DEPTH` rounds with one reported fault (it used to overflow the stack).
fn echo(dir: &Path) {
    let (r, _lib) = fixture(dir, "echo");
    let hits = counter(&r, HITS);
    let faults = collect_faults(r.event_bus());
    r.initialize_all().unwrap();
    r.event_bus()
        .publish(&PluginEvent::custom("fault.echo", ()));
    assert_eq!(hits.load(Ordering::SeqCst), MAX_PUBLISH_DEPTH + 1);
    let got = faults.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].kind, FaultKind::DepthExceeded);
    assert_eq!(got[0].plugin.as_deref(), Some(FIXTURE));
    assert_eq!(got[0].event, "fault.echo");
    assert!(r.is_loaded(FIXTURE), "recursion is not a plugin failure");
    r.unload(FIXTURE).unwrap();
    good_plugin_still_loads(&r, dir);
}

/// Host-side subscribers that republish (one echoing itself, two echoing each other, one echoing
/// fault events) are bounded the same way, and a fault while delivering a fault goes to stderr
/// only.
fn host_echo() {
    let r = PluginRegistry::new();
    let bus = r.event_bus().clone();
    let faults = collect_faults(&bus);
    let n = Arc::new(AtomicUsize::new(0));
    let (b, n2) = (bus.clone(), n.clone());
    bus.subscribe(
        "again",
        Arc::new(move |e| {
            n2.fetch_add(1, Ordering::SeqCst);
            b.publish(e);
        }),
    );
    bus.publish(&PluginEvent::custom("again", 1u8));
    assert_eq!(n.load(Ordering::SeqCst), MAX_PUBLISH_DEPTH + 1);
    let got = faults.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (got[0].kind, got[0].plugin.as_deref()),
        (FaultKind::DepthExceeded, None)
    );

    let pongs = Arc::new(AtomicUsize::new(0));
    for (hear, say) in [("ping", "pong"), ("pong", "ping")] {
        let (b, p) = (bus.clone(), pongs.clone());
        bus.subscribe(
            hear,
            Arc::new(move |_| {
                p.fetch_add(1, Ordering::SeqCst);
                b.publish(&PluginEvent::custom(say, ()));
            }),
        );
    }
    bus.publish(&PluginEvent::custom("ping", ()));
    assert_eq!(pongs.load(Ordering::SeqCst), MAX_PUBLISH_DEPTH + 1);
    assert_eq!(faults.lock().unwrap().len(), 2);

    // A subscriber echoing fault events: its echoes are bounded too, and the fault about them
    // is not published again.
    let echoed = Arc::new(AtomicUsize::new(0));
    let (b, e2) = (bus.clone(), echoed.clone());
    bus.subscribe(
        FAULT_EVENT,
        Arc::new(move |e| {
            e2.fetch_add(1, Ordering::SeqCst);
            b.publish(e);
        }),
    );
    bus.publish(&PluginEvent::custom("again", 2u8));
    assert_eq!(faults.lock().unwrap().len(), 3 + MAX_PUBLISH_DEPTH);
    assert_eq!(echoed.load(Ordering::SeqCst), MAX_PUBLISH_DEPTH + 1);
    good_plugin_still_loads(&r, &temp_dir("fault-host-echo"));
}

/// The first 8 KiB of a valid plugin: refused by the ELF check (dlopen used to die of SIGBUS).
fn truncated(dir: &Path) {
    let bytes = std::fs::read(library("op-counter")).unwrap();
    let cut = dir.join(format!(
        "{}truncated{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    std::fs::write(&cut, &bytes[..8192]).unwrap();
    let r = PluginRegistry::new();
    let e = DynamicPluginLoader::new()
        .load_file(&cut, &r)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&cut.display().to_string()), "{e}");
    if cfg!(target_os = "linux") {
        assert!(e.contains("truncated"), "{e}");
    }
    assert!(r.list().is_empty());
    good_plugin_still_loads(&r, dir);
}

/// The same through `load_into(dir)`: the truncated file is named in the error, and the good
/// library next to it is registered and works.
fn truncated_dir(dir: &Path) {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let bytes = std::fs::read(library("op-counter")).unwrap();
    let cut = plugins.join(format!(
        "{}aa_truncated{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    std::fs::write(&cut, &bytes[..8192]).unwrap();
    copy_as(&library("op-counter"), &plugins, "op_counter");
    let r = PluginRegistry::new();
    let e = DynamicPluginLoader::new()
        .load_into(&plugins, &r)
        .unwrap_err()
        .to_string();
    assert!(e.contains("aa_truncated"), "{e}");
    assert!(
        r.get("op_counter").is_some(),
        "the good library was registered"
    );
    r.initialize_all().unwrap();
    assert!(r.is_loaded("op_counter"));
    r.unload("op_counter").unwrap();
    good_plugin_still_loads(&r, dir);
}

/// A declaration whose ABI version, magic and size are right but whose pointers lead outside
/// the library is refused before anything behind them is read (reading used to SIGSEGV).
fn bad_declaration(dir: &Path) {
    let lib = copy_as(&library("bad-declaration"), dir, "bad_declaration");
    let r = PluginRegistry::new();
    let e = DynamicPluginLoader::new()
        .load_file(&lib, &r)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&lib.display().to_string()), "{e}");
    if cfg!(target_os = "linux") {
        assert!(e.contains("outside the library"), "{e}");
    }
    assert!(r.list().is_empty());
    good_plugin_still_loads(&r, dir);
}

// ---- in-process faults (host code panics are caught in-process) ----

#[test]
fn panicking_host_subscriber_is_unsubscribed_and_reported() {
    let bus = PluginEventBus::new();
    let faults = collect_faults(&bus);
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    bus.subscribe(
        "boom",
        Arc::new(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
            panic!("host subscriber exploded");
        }),
    );
    let calm = Arc::new(AtomicUsize::new(0));
    let c = calm.clone();
    bus.subscribe(
        "boom",
        Arc::new(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        }),
    );
    assert_eq!(bus.subscriber_count(), 3);
    bus.publish(&PluginEvent::custom("boom", ()));
    bus.publish(&PluginEvent::custom("boom", ()));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "unsubscribed after panicking"
    );
    assert_eq!(calm.load(Ordering::SeqCst), 2);
    assert_eq!(bus.subscriber_count(), 2);
    let got = faults.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].kind, FaultKind::SubscriberPanicked);
    assert!(
        got[0].reason.contains("host subscriber exploded"),
        "{got:?}"
    );

    // A panicking fault subscriber is removed too, without reporting faults about faults.
    bus.subscribe(FAULT_EVENT, Arc::new(|_| panic!("fault handler exploded")));
    bus.subscribe("boom2", Arc::new(|_| panic!("second")));
    bus.publish(&PluginEvent::custom("boom2", ()));
    assert_eq!(faults.lock().unwrap().len(), 2);
    assert_eq!(
        bus.subscriber_count(),
        2,
        "both panicking subscribers removed"
    );
}
