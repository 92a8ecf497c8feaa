//! The plugin system wired to the dispatcher: link-time plugins (the CPU backend), `TensorOp`
//! events only when someone listens, the telemetry plugins, and BackendChanged. These tests use
//! the global bus and registry, so they run one at a time.

use st_core::events::{global_event_bus, PluginEvent};
use st_core::plugin::telemetry::{EventRecorder, OpProfiler, OpStats};
use st_core::plugin::{
    global_registry, init_plugin_system, CpuBackendPlugin, PluginCapability, PluginRegistry,
};
use st_core::{default_device, set_default_device};
use st_core::{DType, Device, Tensor};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn f32s(v: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape.to_vec(), &Device::cpu()).unwrap()
}

#[test]
fn init_loads_linked_cpu_plugin_with_its_service() {
    let _s = serial();
    init_plugin_system().unwrap();
    init_plugin_system().unwrap();
    let reg = global_registry();
    assert!(reg.is_loaded(CpuBackendPlugin::ID));
    let found = reg.find_by_capability(&PluginCapability::Backend("CPU".into()));
    assert_eq!(found.len(), 1);
    let dev: Device = reg.context().get_service("cpu_device").unwrap();
    assert_eq!(dev, Device::cpu());
    assert!(reg
        .with_plugin::<CpuBackendPlugin, _>("cpu_backend", |p| p.is_loaded())
        .unwrap());
    // Loading the CPU plugin does not make ops publish.
    assert!(!global_event_bus().has_tensor_op_listeners());
}

#[test]
fn tensor_op_events_flow_only_while_someone_listens() {
    let _s = serial();
    let bus = global_event_bus();
    assert!(!bus.has_tensor_op_listeners());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let id = bus.subscribe(
        "TensorOp",
        Arc::new(move |e| {
            if let PluginEvent::TensorOp {
                op,
                dtype,
                input_shapes,
                output_shape,
                ..
            } = e
            {
                s2.lock()
                    .unwrap()
                    .push((*op, *dtype, input_shapes.clone(), output_shape.clone()));
            }
        }),
    );
    let a = f32s(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let b = f32s(&[1.0, 1.0, 1.0], &[3]);
    a.sub(&b).unwrap();
    assert!(bus.unsubscribe(id));
    a.sub(&b).unwrap();
    let seen = seen.lock().unwrap();
    let subs: Vec<_> = seen.iter().filter(|e| e.0 == "sub").collect();
    assert_eq!(subs.len(), 1, "{seen:?}");
    assert_eq!(subs[0].1, "f32");
    assert_eq!(subs[0].2, vec![vec![2, 3], vec![3]]);
    assert_eq!(subs[0].3, vec![2, 3]);
}

#[test]
fn telemetry_plugins_record_profile_stats_and_jsonl() {
    let _s = serial();
    let reg = PluginRegistry::with_event_bus(global_event_bus().clone());
    let dir = std::env::temp_dir().join(format!("st-telemetry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let jsonl = dir.join("events.jsonl");
    let profiler = OpProfiler::new();
    let trace = profiler.handle();
    let stats = OpStats::new();
    let table = stats.handle();
    reg.register(Box::new(profiler)).unwrap();
    reg.register(Box::new(stats)).unwrap();
    reg.register(Box::new(EventRecorder::new(&jsonl).with_tensor_ops(true)))
        .unwrap();
    reg.initialize_all().unwrap();

    let a = f32s(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let b = Tensor::full([2, 2], 2.0, DType::F32, &Device::cpu()).unwrap();
    let c = a.mul(&b).unwrap().mul(&b).unwrap().div(&a).unwrap();
    assert_eq!(c.to_vec::<f32>().unwrap(), vec![4.0; 4]);
    global_event_bus().publish(&PluginEvent::custom("note", String::from("hi")));

    let recs = trace.records();
    let names: Vec<&str> = recs.iter().map(|r| r.op).collect();
    assert_eq!(names, ["fill", "mul", "mul", "div"]);
    assert!(recs.windows(2).all(|w| w[0].start_us <= w[1].start_us));
    let json = trace.chrome_trace();
    let events = json["traceEvents"].as_array().unwrap();
    assert_eq!(events.len(), 4);
    assert!(events
        .iter()
        .all(|e| e["ph"] == "X" && e["dur"].as_f64().unwrap() >= 0.0));
    assert_eq!(
        events[1]["args"]["input_shapes"],
        serde_json::json!([[2, 2], [2, 2]])
    );
    assert_eq!(events[1]["args"]["dtype"], "f32");

    let mul = table.get("mul", "cpu", "f32").unwrap();
    assert_eq!(mul.count, 2);
    assert!(mul.min_ns <= mul.max_ns && mul.total_ns >= mul.max_ns);
    assert!((mul.mean_ns() - mul.total_ns as f64 / 2.0).abs() < 1e-9);
    assert!(table.table().contains("mul"));
    assert_eq!(table.to_json().as_array().unwrap().len(), 3);

    reg.shutdown().unwrap();
    assert!(!global_event_bus().has_tensor_op_listeners());
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    let ops = kinds.iter().filter(|k| **k == "TensorOp").count();
    assert_eq!(ops, 4, "{kinds:?}");
    let note = lines.iter().find(|l| l["event_type"] == "note").unwrap();
    assert_eq!(note["data"], "hi");
    assert!(kinds.contains(&"SystemShutdown"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn changing_default_device_publishes_backend_changed() {
    let _s = serial();
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    let id = global_event_bus().subscribe(
        "BackendChanged",
        Arc::new(move |e| {
            if let PluginEvent::BackendChanged { backend } = e {
                assert_eq!(backend, "cpu:0");
                n2.fetch_add(1, Ordering::SeqCst);
            }
        }),
    );
    let before = default_device();
    set_default_device(Device::cpu());
    assert_eq!(
        n.load(Ordering::SeqCst),
        0,
        "unchanged device publishes nothing"
    );
    assert_eq!(before, default_device());
    global_event_bus().unsubscribe(id);
}
