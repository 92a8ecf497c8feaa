//! Criterion benches for matrix products: `matmul/<variant>/<shape>`.

use criterion::{BenchmarkId, Criterion, Throughput};
use st_benches::cases::randn;
use st_core::Device;
use std::hint::black_box;

fn matmul(c: &mut Criterion) {
    let dev = Device::cpu();
    let mut g = c.benchmark_group("matmul");
    g.sample_size(10);
    for n in [64usize, 256, 1024] {
        let a = randn(&[n, n], 1, &dev).expect("input a");
        let b = randn(&[n, n], 2, &dev).expect("input b");
        g.throughput(Throughput::Elements((2 * n * n * n) as u64));
        g.bench_function(BenchmarkId::new("square", format!("{n}x{n}")), |bch| {
            bch.iter(|| black_box(a.matmul(&b).expect("matmul")))
        });
        // The right operand as a transposed view: the GEMM reads it through strides.
        let bt = b.t().expect("transpose");
        g.bench_function(
            BenchmarkId::new("rhs_transposed", format!("{n}x{n}")),
            |bch| bch.iter(|| black_box(a.matmul(&bt).expect("matmul"))),
        );
    }
    let a = randn(&[16, 128, 64], 3, &dev).expect("input a");
    let b = randn(&[16, 64, 128], 4, &dev).expect("input b");
    g.throughput(Throughput::Elements(2 * 16 * 128 * 64 * 128));
    g.bench_function(BenchmarkId::new("batched", "16x128x64@16x64x128"), |bch| {
        bch.iter(|| black_box(a.matmul(&b).expect("matmul")))
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    matmul(&mut c);
    c.final_summary();
}
