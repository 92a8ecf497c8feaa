//! Profiles a small tensor workload with the built-in telemetry plugins: writes a Chrome trace
//! (open it in <https://ui.perfetto.dev> or `chrome://tracing`), prints per-op statistics, and
//! measures what listening costs per op (no subscriber, statistics on, profiler on).
//!
//! ```text
//! cargo run --release -p st-examples --example profile_ops [-- trace.json]
//! ```

use st_core::plugin::telemetry::{OpProfiler, OpStats};
use st_core::plugin::{global_registry, init_plugin_system};
use st_core::{DType, Device, Tensor};
use std::time::Instant;

/// Runs a few elementwise ops in two dtypes; returns how many ops were dispatched.
fn workload(d: &Device) -> st_core::Result<usize> {
    let mut ops = 0;
    for dtype in [DType::F32, DType::F64] {
        let x = Tensor::full([64, 256], 1.5, dtype, d)?;
        let y = Tensor::full([64, 256], 0.25, dtype, d)?;
        ops += 2;
        let mut h = x.clone();
        for _ in 0..10 {
            h = h.mul(&y)?.add(&x)?.sub(&y)?.div(&x)?.maximum(&y)?;
            ops += 5;
        }
        let other = if dtype == DType::F32 {
            DType::F64
        } else {
            DType::F32
        };
        let _ = h.minimum(&x)?.to_dtype(other)?;
        ops += 2;
    }
    Ok(ops)
}

/// Mean wall time of `add` on 1-element f32 tensors, in nanoseconds.
fn add_f32_1_ns(d: &Device, iters: usize) -> st_core::Result<f64> {
    let a = Tensor::from_vec(vec![1.0f32], [1], d)?;
    let b = Tensor::from_vec(vec![2.0f32], [1], d)?;
    for _ in 0..iters / 10 {
        std::hint::black_box(a.add(&b)?);
    }
    let t = Instant::now();
    for _ in 0..iters {
        std::hint::black_box(a.add(&b)?);
    }
    Ok(t.elapsed().as_nanos() as f64 / iters as f64)
}

fn main() -> st_core::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "trace.json".to_string());
    let d = Device::cpu();
    init_plugin_system()?;
    let registry = global_registry();
    let iters = 200_000;
    let quiet = add_f32_1_ns(&d, iters)?;

    let stats = OpStats::new();
    let table = stats.handle();
    registry.register(Box::new(stats))?;
    registry.initialize_all()?;
    let with_stats = add_f32_1_ns(&d, iters)?;

    let profiler = OpProfiler::new();
    let trace = profiler.handle();
    registry.register(Box::new(profiler))?;
    registry.initialize_all()?;
    let with_both = add_f32_1_ns(&d, iters)?;
    trace.clear();
    table.clear();

    let ops = workload(&d)?;
    trace.write_chrome_trace(&path)?;
    print!("{}", table.table());

    // The file must be valid JSON with one complete event per op.
    let text = std::fs::read_to_string(&path).map_err(|e| st_core::Error::io(&path, e))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| st_core::Error::invalid("profile_ops", format!("trace is not JSON: {e}")))?;
    let events = json["traceEvents"].as_array().map(Vec::len).unwrap_or(0);
    let complete = json["traceEvents"]
        .as_array()
        .map(|v| v.iter().filter(|e| e["ph"] == "X").count())
        .unwrap_or(0);
    println!("\n{ops} ops dispatched, {events} trace events ({complete} complete) in {path}");
    if events != ops || complete != ops {
        return Err(st_core::Error::invalid(
            "profile_ops",
            format!("expected {ops} complete events, found {complete} of {events}"),
        ));
    }
    println!("\nadd_f32_1, mean over {iters} calls:");
    println!("  no subscriber      {quiet:8.1} ns/op");
    println!(
        "  op statistics on   {with_stats:8.1} ns/op  (+{:.1} ns)",
        with_stats - quiet
    );
    println!(
        "  + profiler on      {with_both:8.1} ns/op  (+{:.1} ns)",
        with_both - quiet
    );
    registry.shutdown()?;
    Ok(())
}
