//! Criterion benches for convolution and pooling: `conv/<op>/<shape>`.

use criterion::{BenchmarkId, Criterion, Throughput};
use st_benches::cases::randn;
use st_core::{Conv2dParams, Device};
use std::hint::black_box;

fn conv(c: &mut Criterion) {
    let dev = Device::cpu();
    let mut g = c.benchmark_group("conv");
    g.sample_size(10);
    let same = Conv2dParams {
        padding: [1, 1],
        ..Conv2dParams::default()
    };
    // (label, input, weight, params, output spatial size)
    let cases = [
        (
            "n8_c64_h56_k3",
            [8, 64, 56, 56],
            [64, 64, 3, 3],
            same,
            [56, 56],
        ),
        (
            "n1_c64_h56_k3",
            [1, 64, 56, 56],
            [64, 64, 3, 3],
            same,
            [56, 56],
        ),
        (
            "n1_c3_h224_k7_s2",
            [1, 3, 224, 224],
            [64, 3, 7, 7],
            Conv2dParams {
                stride: [2, 2],
                padding: [3, 3],
                ..Conv2dParams::default()
            },
            [112, 112],
        ),
    ];
    for (label, xs, ws, p, out) in cases {
        let x = randn(&xs, 1, &dev).expect("input");
        let w = randn(&ws, 2, &dev).expect("weight");
        let macs = xs[0] * ws[0] * ws[1] * ws[2] * ws[3] * out[0] * out[1];
        g.throughput(Throughput::Elements(2 * macs as u64));
        g.bench_function(BenchmarkId::new("conv2d", label), |bch| {
            bch.iter(|| black_box(x.conv2d(&w, None, p).expect("conv2d")))
        });
    }
    let x = randn(&[8, 64, 56, 56], 3, &dev).expect("input");
    g.throughput(Throughput::Elements(8 * 64 * 56 * 56));
    g.bench_function(BenchmarkId::new("max_pool2d", "n8_c64_h56_k3_s2"), |bch| {
        bch.iter(|| black_box(x.max_pool2d([3, 3], [2, 2], [1, 1]).expect("max_pool2d")))
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    conv(&mut c);
    c.final_summary();
}
