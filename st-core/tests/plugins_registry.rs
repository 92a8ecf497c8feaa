//! Registry rules of the plugin system: registration, semver dependencies, load order, cycles,
//! unloading, shutdown, event delivery, services, and panic containment in every hook.

use st_core::events::{PluginEvent, PluginEventBus};
use st_core::plugin::{
    Plugin, PluginCapability, PluginContext, PluginMetadata, PluginRegistry, PluginState,
    StaticPluginLoader,
};
use st_core::{Error, Result};
use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

type Log = Arc<Mutex<Vec<String>>>;

/// A plugin whose behaviour each test configures.
#[derive(Default, Clone)]
struct Probe {
    id: String,
    version: String,
    deps: Vec<(String, String)>,
    log: Log,
    panic_in: Option<&'static str>,
    fail_in: Option<&'static str>,
    subscribe: Option<&'static str>,
    events: Arc<Mutex<Vec<String>>>,
}

fn probe(id: &str, version: &str, log: &Log) -> Probe {
    Probe {
        id: id.into(),
        version: version.into(),
        log: log.clone(),
        ..Probe::default()
    }
}

impl Probe {
    fn dep(mut self, id: &str, req: &str) -> Self {
        self.deps.push((id.into(), req.into()));
        self
    }
    fn panics_in(mut self, hook: &'static str) -> Self {
        self.panic_in = Some(hook);
        self
    }
    fn fails_in(mut self, hook: &'static str) -> Self {
        self.fail_in = Some(hook);
        self
    }
    fn hook(&self, name: &str) -> Result<()> {
        self.log.lock().unwrap().push(format!("{}:{name}", self.id));
        if self.panic_in == Some(name) {
            panic!("{} exploded in {name}", self.id);
        }
        if self.fail_in == Some(name) {
            return Err(Error::invalid(
                "probe",
                format!("{} refused {name}", self.id),
            ));
        }
        Ok(())
    }
}

impl Plugin for Probe {
    fn metadata(&self) -> PluginMetadata {
        if self.panic_in == Some("metadata") {
            panic!("metadata exploded");
        }
        let mut m = PluginMetadata::new(&self.id, &self.version)
            .with_capability(PluginCapability::Custom("probe".into()));
        for (d, r) in &self.deps {
            m = m.with_dependency(d, r);
        }
        m
    }
    fn on_load(&mut self, ctx: &mut PluginContext) -> Result<()> {
        if let Some(pattern) = self.subscribe {
            let id = self.id.clone();
            ctx.subscribe(
                pattern,
                Arc::new(move |e| {
                    if e.name() == "boom" {
                        panic!("subscriber of {id} exploded");
                    }
                }),
            );
        }
        ctx.register_service(format!("{}.svc", self.id), self.id.clone());
        self.hook("on_load")
    }
    fn on_unload(&mut self, _ctx: &mut PluginContext) -> Result<()> {
        self.hook("on_unload")
    }
    fn on_event(&mut self, event: &PluginEvent, _ctx: &PluginContext) -> Result<()> {
        self.events.lock().unwrap().push(event.name().to_string());
        if event.name() == "boom" {
            self.hook("on_event")?;
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

fn reg(r: &PluginRegistry, p: Probe) {
    r.register(Box::new(p)).unwrap();
}

fn loads(log: &Log) -> Vec<String> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|s| s.ends_with(":on_load"))
        .cloned()
        .collect()
}

fn failure(r: &PluginRegistry, id: &str) -> String {
    match r.state(id) {
        Some(PluginState::Failed(m)) => m,
        other => panic!("{id} should have failed, state {other:?}"),
    }
}

#[test]
fn duplicate_id_is_rejected() {
    let log = Log::default();
    let r = PluginRegistry::new();
    reg(&r, probe("a", "1.0.0", &log));
    let e = r
        .register(Box::new(probe("a", "2.0.0", &log)))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("plugin a") && e.contains("already registered"),
        "{e}"
    );
    assert_eq!(r.list().len(), 1);
}

#[test]
fn invalid_versions_are_rejected_at_registration() {
    let log = Log::default();
    let r = PluginRegistry::new();
    let e = r
        .register(Box::new(probe("a", "one", &log)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("plugin a") && e.contains("semantic"), "{e}");
    let e = r
        .register(Box::new(probe("b", "1.0.0", &log).dep("a", "~>1")))
        .unwrap_err();
    assert!(e.to_string().contains("invalid version requirement"), "{e}");
    let e = r
        .register(Box::new(probe("c", "1.0.0", &log).panics_in("metadata")))
        .unwrap_err();
    assert!(e.to_string().contains("metadata exploded"), "{e}");
}

#[test]
fn dependencies_load_first_and_semver_ranges_are_checked() {
    let log = Log::default();
    let r = PluginRegistry::new();
    reg(
        &r,
        probe("app", "1.0.0", &log)
            .dep("utils", "^2.0.0")
            .dep("base", ">=1.0.0"),
    );
    reg(&r, probe("utils", "2.3.1", &log).dep("base", "~1.4"));
    reg(&r, probe("base", "1.4.7", &log));
    reg(&r, probe("loner", "0.1.0", &log));
    r.initialize_all().unwrap();
    let order = loads(&log);
    let pos = |id: &str| {
        order
            .iter()
            .position(|s| s == &format!("{id}:on_load"))
            .unwrap()
    };
    assert!(
        pos("base") < pos("utils") && pos("utils") < pos("app"),
        "{order:?}"
    );
    assert!(r.list().iter().all(|i| i.is_loaded()));
    // A second call loads only what is new.
    reg(&r, probe("late", "1.0.0", &log).dep("app", "=1.0.0"));
    r.initialize_all().unwrap();
    assert_eq!(loads(&log).len(), 5);
}

#[test]
fn missing_dependency_and_version_mismatch_name_the_plugins() {
    let log = Log::default();
    let r = PluginRegistry::new();
    reg(&r, probe("base", "1.4.0", &log));
    reg(&r, probe("needs_ghost", "1.0.0", &log).dep("ghost", "^1"));
    reg(
        &r,
        probe("needs_new_base", "1.0.0", &log).dep("base", ">=2.0.0"),
    );
    reg(
        &r,
        probe("on_top", "1.0.0", &log).dep("needs_new_base", "*"),
    );
    let e = r.initialize_all().unwrap_err().to_string();
    for id in ["needs_ghost", "needs_new_base", "on_top"] {
        assert!(e.contains(id), "{e}");
    }
    let m = failure(&r, "needs_ghost");
    assert!(m.contains("missing dependency ghost"), "{m}");
    let m = failure(&r, "needs_new_base");
    assert!(m.contains("base >=2.0.0") && m.contains("1.4.0"), "{m}");
    assert!(failure(&r, "on_top").contains("needs_new_base"));
    assert!(r.is_loaded("base"));
    assert_eq!(loads(&log), vec!["base:on_load"]);
}

#[test]
fn cycles_are_reported_with_their_members() {
    let log = Log::default();
    let r = PluginRegistry::new();
    reg(&r, probe("x", "1.0.0", &log).dep("y", "*"));
    reg(&r, probe("y", "1.0.0", &log).dep("z", "*"));
    reg(&r, probe("z", "1.0.0", &log).dep("x", "*"));
    reg(&r, probe("w", "1.0.0", &log).dep("x", "*"));
    reg(&r, probe("free", "1.0.0", &log));
    let e = r.initialize_all().unwrap_err().to_string();
    assert!(e.contains("cycle"), "{e}");
    let m = failure(&r, "y");
    assert!(
        m.contains("x") && m.contains("y") && m.contains("z") && m.contains("->"),
        "{m}"
    );
    assert!(failure(&r, "w").contains("x"));
    assert!(r.is_loaded("free"));
}

#[test]
fn panic_or_error_in_on_load_fails_the_plugin_and_its_dependents_only() {
    let log = Log::default();
    let r = PluginRegistry::new();
    reg(&r, probe("bad", "1.0.0", &log).panics_in("on_load"));
    reg(&r, probe("child", "1.0.0", &log).dep("bad", "*"));
    reg(&r, probe("refuser", "1.0.0", &log).fails_in("on_load"));
    reg(&r, probe("good", "1.0.0", &log));
    let e = r.initialize_all().unwrap_err().to_string();
    assert!(
        e.contains("bad") && e.contains("child") && e.contains("refuser"),
        "{e}"
    );
    assert!(failure(&r, "bad").contains("bad exploded in on_load"));
    assert!(failure(&r, "child").contains("bad"));
    assert!(failure(&r, "refuser").contains("refuser refused on_load"));
    assert!(r.is_loaded("good"));
    assert!(!log.lock().unwrap().contains(&"child:on_load".to_string()));
    // Services a failed plugin registered before failing are withdrawn.
    assert!(!r.context().has_service("bad.svc"));
    assert_eq!(
        r.context().get_service::<String>("good.svc").as_deref(),
        Some("good")
    );
}

#[test]
fn unload_takes_dependents_first_and_shutdown_reverses_load_order() {
    let log = Log::default();
    let r = PluginRegistry::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    r.event_bus().subscribe(
        "*",
        Arc::new(move |e| s.lock().unwrap().push(format!("{e:?}"))),
    );
    reg(&r, probe("base", "1.0.0", &log));
    reg(&r, probe("mid", "1.0.0", &log).dep("base", "*"));
    reg(&r, probe("top", "1.0.0", &log).dep("mid", "*"));
    reg(&r, probe("other", "1.0.0", &log));
    r.initialize_all().unwrap();
    log.lock().unwrap().clear();
    r.unload("mid").unwrap();
    assert_eq!(*log.lock().unwrap(), vec!["top:on_unload", "mid:on_unload"]);
    assert!(r.get("top").is_none() && r.get("mid").is_none() && r.is_loaded("base"));
    assert!(!r.context().has_service("mid.svc"));
    assert!(r
        .unload("mid")
        .unwrap_err()
        .to_string()
        .contains("not registered"));
    log.lock().unwrap().clear();
    r.shutdown().unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        vec!["other:on_unload", "base:on_unload"]
    );
    assert!(r.list().is_empty());
    let seen = seen.lock().unwrap();
    let shutdown = seen.iter().position(|e| e == "SystemShutdown").unwrap();
    let unloaded = seen
        .iter()
        .position(|e| e.contains("PluginUnloaded") && e.contains("other"));
    assert!(shutdown < unloaded.unwrap());
}

#[test]
fn on_event_receives_every_event_but_tensor_ops_by_default() {
    let log = Log::default();
    let r = PluginRegistry::new();
    let p = probe("listener", "1.0.0", &log);
    let events = p.events.clone();
    reg(&r, p);
    r.initialize_all().unwrap();
    assert!(!r.event_bus().has_tensor_op_listeners());
    r.event_bus().publish(&PluginEvent::EpochStart { epoch: 3 });
    r.event_bus()
        .publish(&PluginEvent::custom("my.event", 42i64));
    r.event_bus().publish(&PluginEvent::BackendChanged {
        backend: "cpu:0".into(),
    });
    let op = PluginEvent::TensorOp {
        op: "add",
        backend: "cpu",
        dtype: "f32",
        input_shapes: vec![vec![2], vec![2]],
        output_shape: vec![2],
        duration_ns: 10,
    };
    r.event_bus().publish(&op);
    let got = events.lock().unwrap().clone();
    assert_eq!(
        got,
        vec!["PluginLoaded", "EpochStart", "my.event", "BackendChanged"]
    );
}

#[test]
fn panics_in_on_event_and_subscribers_mark_failed_and_host_continues() {
    let log = Log::default();
    let r = PluginRegistry::new();
    reg(&r, probe("evt", "1.0.0", &log).panics_in("on_event"));
    let mut sub = probe("sub", "1.0.0", &log);
    sub.subscribe = Some("boom");
    reg(&r, sub);
    let calm = probe("calm", "1.0.0", &log);
    let calm_events = calm.events.clone();
    reg(&r, calm);
    r.initialize_all().unwrap();
    r.event_bus().publish(&PluginEvent::custom("boom", ()));
    assert!(failure(&r, "evt").contains("panicked in on_event"));
    assert!(failure(&r, "sub").contains("subscriber of sub exploded"));
    assert!(r.is_loaded("calm"));
    // Failed plugins get nothing more; the others keep receiving.
    r.event_bus().publish(&PluginEvent::EpochStart { epoch: 1 });
    assert_eq!(
        calm_events.lock().unwrap().last().map(String::as_str),
        Some("EpochStart")
    );
    assert_eq!(
        r.event_bus().subscriber_count(),
        1,
        "only calm's delivery remains"
    );
    // A failed plugin can still be removed, without on_unload.
    r.unload("evt").unwrap();
    assert!(!log.lock().unwrap().contains(&"evt:on_unload".to_string()));
}

#[test]
fn panic_or_error_in_on_unload_is_reported_and_the_plugin_removed() {
    let log = Log::default();
    let r = PluginRegistry::new();
    reg(&r, probe("p", "1.0.0", &log).panics_in("on_unload"));
    reg(&r, probe("q", "1.0.0", &log).fails_in("on_unload"));
    r.initialize_all().unwrap();
    let e = r.unload("p").unwrap_err().to_string();
    assert!(e.contains("p exploded in on_unload"), "{e}");
    assert!(r.get("p").is_none());
    let e = r.shutdown().unwrap_err().to_string();
    assert!(e.contains("q refused on_unload"), "{e}");
    assert!(r.list().is_empty());
}

#[test]
fn typed_access_capabilities_and_static_loader() {
    let log = Log::default();
    let r = PluginRegistry::new();
    let l2 = log.clone();
    let loader = StaticPluginLoader::new(move || -> Vec<Box<dyn Plugin>> {
        vec![
            Box::new(probe("s1", "1.0.0", &l2)),
            Box::new(probe("s2", "1.0.0", &l2)),
        ]
    });
    assert_eq!(
        loader.load_into(std::path::Path::new("."), &r).unwrap(),
        ["s1", "s2"]
    );
    r.initialize_all().unwrap();
    let v = r
        .with_plugin::<Probe, _>("s2", |p| p.version.clone())
        .unwrap();
    assert_eq!(v, "1.0.0");
    r.with_plugin_mut::<Probe, _>("s1", |p| p.version = "9.9.9".into())
        .unwrap();
    assert!(r.with_plugin::<String, _>("s1", |_| ()).is_err());
    assert!(r.with_plugin::<Probe, _>("nope", |_| ()).is_err());
    let found = r.find_by_capability(&PluginCapability::Custom("probe".into()));
    assert_eq!(
        found.iter().map(|i| i.id()).collect::<Vec<_>>(),
        ["s1", "s2"]
    );
    assert!(r.find_by_capability(&PluginCapability::Vision).is_empty());
}

#[test]
fn context_subscriptions_belong_to_their_plugin() {
    struct Sub(Arc<AtomicUsize>);
    impl Plugin for Sub {
        fn metadata(&self) -> PluginMetadata {
            PluginMetadata::new("sub", "1.0.0")
        }
        fn on_load(&mut self, ctx: &mut PluginContext) -> Result<()> {
            let n = self.0.clone();
            ctx.subscribe(
                "EpochEnd",
                Arc::new(move |_| {
                    n.fetch_add(1, Ordering::SeqCst);
                }),
            );
            assert_eq!(ctx.plugin_id(), Some("sub"));
            assert_eq!(ctx.config_usize("batch").unwrap(), Some(32));
            Ok(())
        }
        fn on_unload(&mut self, _ctx: &mut PluginContext) -> Result<()> {
            Ok(())
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
        fn as_any_mut(&mut self) -> &mut dyn Any {
            self
        }
    }
    let bus = PluginEventBus::new();
    let r = PluginRegistry::with_event_bus(bus.clone());
    r.context().set_config("batch", "32");
    let n = Arc::new(AtomicUsize::new(0));
    r.register(Box::new(Sub(n.clone()))).unwrap();
    r.initialize_all().unwrap();
    let end = PluginEvent::EpochEnd {
        epoch: 0,
        metrics: Default::default(),
    };
    bus.publish(&end);
    r.unload("sub").unwrap();
    bus.publish(&end);
    assert_eq!(n.load(Ordering::SeqCst), 1);
    assert_eq!(bus.subscriber_count(), 0);
}
