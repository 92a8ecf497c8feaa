//! Criterion benches for reductions: `reduce/<op>/<shape>`.

use criterion::{BenchmarkId, Criterion, Throughput};
use st_benches::cases::randn;
use st_core::Device;
use std::hint::black_box;

fn reduce(c: &mut Criterion) {
    let dev = Device::cpu();
    let mut g = c.benchmark_group("reduce");
    g.sample_size(20);
    let n = 16 << 20;
    let v = randn(&[n], 1, &dev).expect("input");
    g.throughput(Throughput::Bytes(4 * n as u64));
    g.bench_function(BenchmarkId::new("sum_all", "16m"), |bch| {
        bch.iter(|| black_box(v.sum_all().expect("sum")))
    });
    let m = randn(&[1024, 1024], 2, &dev).expect("matrix");
    g.throughput(Throughput::Bytes(4 * 1024 * 1024));
    g.bench_function(BenchmarkId::new("sum_last_dim", "1024x1024"), |bch| {
        bch.iter(|| black_box(m.sum(&[-1], false).expect("sum")))
    });
    g.bench_function(BenchmarkId::new("sum_first_dim", "1024x1024"), |bch| {
        bch.iter(|| black_box(m.sum(&[0], false).expect("sum")))
    });
    g.bench_function(BenchmarkId::new("amax_last_dim", "1024x1024"), |bch| {
        bch.iter(|| black_box(m.amax(&[-1], false).expect("amax")))
    });
    g.bench_function(BenchmarkId::new("argmax_last_dim", "1024x1024"), |bch| {
        bch.iter(|| black_box(m.argmax(Some(-1), false).expect("argmax")))
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    reduce(&mut c);
    c.final_summary();
}
