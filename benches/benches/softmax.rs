//! Criterion benches for softmax-family ops: `softmax/<op>/<shape>`.

use criterion::{BenchmarkId, Criterion, Throughput};
use st_benches::cases::randn;
use st_core::{DType, Device, Tensor};
use std::hint::black_box;

fn softmax(c: &mut Criterion) {
    let dev = Device::cpu();
    let mut g = c.benchmark_group("softmax");
    g.sample_size(20);
    let x = randn(&[1024, 1024], 1, &dev).expect("input");
    g.throughput(Throughput::Bytes(8 * 1024 * 1024));
    g.bench_function(BenchmarkId::new("softmax", "1024x1024"), |bch| {
        bch.iter(|| black_box(x.softmax(-1).expect("softmax")))
    });
    g.bench_function(BenchmarkId::new("log_softmax", "1024x1024"), |bch| {
        bch.iter(|| black_box(x.log_softmax(-1).expect("log_softmax")))
    });
    let logits = randn(&[256, 1000], 2, &dev).expect("logits");
    let target = Tensor::randint(0, 1000, [256], DType::I64, &dev).expect("target");
    g.throughput(Throughput::Elements(256 * 1000));
    g.bench_function(BenchmarkId::new("cross_entropy", "256x1000"), |bch| {
        bch.iter(|| black_box(logits.cross_entropy(&target).expect("cross_entropy")))
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    softmax(&mut c);
    c.final_summary();
}
