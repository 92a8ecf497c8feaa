//! Criterion benches for per-op overhead on tiny inputs: `dispatch/<op>/<shape>`. These time the
//! dispatcher path (shape inference, registry lookup, allocation, kernel, autograd and event
//! checks), not the arithmetic.

use criterion::{BenchmarkId, Criterion};
use st_benches::cases::randn;
use st_core::events::{global_event_bus, EventCallback};
use st_core::Device;
use std::hint::black_box;
use std::sync::Arc;

fn dispatch(c: &mut Criterion) {
    let dev = Device::cpu();
    let mut g = c.benchmark_group("dispatch");
    g.sample_size(30);
    let a = randn(&[1], 1, &dev).expect("input a");
    let b = randn(&[1], 2, &dev).expect("input b");
    g.bench_function(BenchmarkId::new("add", "1"), |bch| {
        bch.iter(|| black_box(a.add(&b).expect("add")))
    });
    g.bench_function(BenchmarkId::new("exp", "1"), |bch| {
        bch.iter(|| black_box(a.exp().expect("exp")))
    });
    g.bench_function(BenchmarkId::new("add_scalar", "1"), |bch| {
        bch.iter(|| black_box(a.add_scalar(1.0).expect("add_scalar")))
    });
    let m = randn(&[4, 4], 3, &dev).expect("matrix");
    g.bench_function(BenchmarkId::new("transpose_view", "4x4"), |bch| {
        bch.iter(|| black_box(m.t().expect("t")))
    });
    g.bench_function(BenchmarkId::new("matmul", "4x4"), |bch| {
        bch.iter(|| black_box(m.matmul(&m).expect("matmul")))
    });
    let ga = a.detach().requires_grad_().expect("requires_grad");
    g.bench_function(BenchmarkId::new("add_recording_graph", "1"), |bch| {
        bch.iter(|| black_box(ga.add(&b).expect("add")))
    });
    // With a do-nothing TensorOp subscriber the dispatcher times and publishes every op.
    let callback: EventCallback = Arc::new(|e| {
        black_box(e);
    });
    let sub = global_event_bus().subscribe("TensorOp", callback);
    g.bench_function(BenchmarkId::new("add_subscribed", "1"), |bch| {
        bch.iter(|| black_box(a.add(&b).expect("add")))
    });
    global_event_bus().unsubscribe(sub);
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    dispatch(&mut c);
    c.final_summary();
}
