//! Criterion benches for elementwise ops: `elementwise/<op>/<shape>`.

use criterion::{BenchmarkId, Criterion, Throughput};
use st_benches::cases::randn;
use st_core::{Device, Result, Tensor};
use std::hint::black_box;

fn elementwise(c: &mut Criterion) {
    let dev = Device::cpu();
    let mut g = c.benchmark_group("elementwise");
    g.sample_size(20);
    for (label, n) in [("1", 1usize), ("1m", 1 << 20), ("16m", 16 << 20)] {
        let a = randn(&[n], 1, &dev).expect("input a");
        let b = randn(&[n], 2, &dev).expect("input b");
        g.throughput(Throughput::Bytes(12 * n as u64));
        g.bench_function(BenchmarkId::new("add", label), |bch| {
            bch.iter(|| black_box(a.add(&b).expect("add")))
        });
    }
    let n = 1 << 20;
    let a = randn(&[n], 3, &dev).expect("input");
    g.throughput(Throughput::Bytes(8 * n as u64));
    let unary: [(&str, fn(&Tensor) -> Result<Tensor>); 3] = [
        ("exp", Tensor::exp),
        ("tanh", Tensor::tanh),
        ("gelu", Tensor::gelu),
    ];
    for (name, f) in unary {
        g.bench_function(BenchmarkId::new(name, "1m"), |bch| {
            bch.iter(|| black_box(f(&a).expect(name)))
        });
    }
    // Broadcasting a row over a matrix, and adding through a transposed (strided) view.
    let m = randn(&[1024, 1024], 4, &dev).expect("matrix");
    let row = randn(&[1024], 5, &dev).expect("row");
    g.throughput(Throughput::Bytes(8 * 1024 * 1024));
    g.bench_function(BenchmarkId::new("add_broadcast_row", "1024x1024"), |bch| {
        bch.iter(|| black_box(m.add(&row).expect("add")))
    });
    let mt = m.t().expect("transpose");
    g.throughput(Throughput::Bytes(12 * 1024 * 1024));
    g.bench_function(BenchmarkId::new("add_transposed", "1024x1024"), |bch| {
        bch.iter(|| black_box(m.add(&mt).expect("add")))
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    elementwise(&mut c);
    c.final_summary();
}
