//! Shared helpers for the SpiralTorch benchmarks: the timing loop (warm-up, adaptive repetition,
//! median), throughput accounting, the JSON line format, and the `st-bench` case table used by
//! both the `st-bench` binary and the criterion benches.
//!
//! Methodology (the same in `peers/torch_cpu.py`): run the case until `warmup` has passed, take
//! the per-call time from that, batch enough calls into each sample that a sample lasts about
//! `sample_target`, take enough samples that the case runs for at least `min_time` (never fewer
//! than `min_samples`), and report the median per-call time over samples. The timed region
//! includes `device.sync()`, so asynchronous backends are measured to completion: on WGPU it
//! waits until the queue has finished every dispatch.

#![warn(missing_docs)]

pub mod case;
pub mod cases;
pub mod train_cases;

use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub use cases::{all_cases, cases_for, BackendChoice, Case, Runner, WGPU_CASES};

/// How long and how often a case is timed.
#[derive(Clone, Copy, Debug)]
pub struct TimingConfig {
    /// Time spent running the case before measuring (at least one call).
    pub warmup: Duration,
    /// Minimum measured time per case.
    pub min_time: Duration,
    /// Target duration of one sample (calls are batched to reach it).
    pub sample_target: Duration,
    /// Minimum number of samples, even for slow cases.
    pub min_samples: usize,
    /// Upper bound on the number of samples.
    pub max_samples: usize,
}

impl Default for TimingConfig {
    fn default() -> Self {
        TimingConfig {
            warmup: Duration::from_millis(100),
            min_time: Duration::from_millis(500),
            sample_target: Duration::from_millis(10),
            min_samples: 5,
            max_samples: 1000,
        }
    }
}

impl TimingConfig {
    /// The default configuration with `min_time` replaced (warm-up scaled to a fifth of it).
    pub fn with_min_time(min_time: Duration) -> Self {
        TimingConfig {
            min_time,
            warmup: min_time / 5,
            ..TimingConfig::default()
        }
    }
}

/// Result of timing one case.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    /// Median time of one call, in nanoseconds.
    pub median_ns: f64,
    /// Number of samples taken.
    pub samples: usize,
    /// Calls per sample.
    pub iters_per_sample: u64,
}

/// Times `f` as described in the crate docs; stops at the first error `f` returns.
///
/// # Errors
/// Whatever `f` returns.
pub fn measure<E>(cfg: &TimingConfig, mut f: impl FnMut() -> Result<(), E>) -> Result<Timing, E> {
    let start = Instant::now();
    let mut warm_calls: u64 = 0;
    loop {
        f()?;
        warm_calls += 1;
        if start.elapsed() >= cfg.warmup {
            break;
        }
    }
    let per_call = start.elapsed().as_secs_f64() / warm_calls as f64;
    let per_call = per_call.max(1e-9);
    let iters = ((cfg.sample_target.as_secs_f64() / per_call).floor() as u64).max(1);
    let sample_secs = per_call * iters as f64;
    let wanted = (cfg.min_time.as_secs_f64() / sample_secs).ceil() as usize;
    let samples = wanted.clamp(cfg.min_samples.max(1), cfg.max_samples.max(1));

    let mut per_iter_ns = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t0 = Instant::now();
        for _ in 0..iters {
            f()?;
        }
        per_iter_ns.push(t0.elapsed().as_nanos() as f64 / iters as f64);
    }
    Ok(Timing {
        median_ns: median(&mut per_iter_ns),
        samples,
        iters_per_sample: iters,
    })
}

/// Median of `v` (mean of the two middle values for even lengths); `NaN` when empty.
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// The work one call of a case does, for throughput figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Work {
    /// Floating-point operations per call (reported as GFLOP/s).
    Flops(f64),
    /// Bytes moved per call (reported as GB/s, 10⁹ bytes).
    Bytes(f64),
    /// Training samples per call (reported as samples/s).
    Samples(f64),
}

impl Work {
    /// `2·m·k·n` FLOP of an `[m, k] × [k, n]` matrix product.
    pub fn matmul(m: usize, k: usize, n: usize) -> Work {
        Work::Flops(2.0 * m as f64 * k as f64 * n as f64)
    }

    /// `2·N·Cout·Cin·kh·kw·OH·OW` FLOP of a dense (groups = 1) 2-d convolution.
    pub fn conv2d(n: usize, cout: usize, cin: usize, k: [usize; 2], out: [usize; 2]) -> Work {
        let macs = n * cout * cin * k[0] * k[1] * out[0] * out[1];
        Work::Flops(2.0 * macs as f64)
    }

    /// `bytes_per_elem · numel` bytes.
    pub fn bytes(numel: usize, bytes_per_elem: usize) -> Work {
        Work::Bytes(numel as f64 * bytes_per_elem as f64)
    }

    /// The JSON key and value for a call taking `ns` nanoseconds (`gflops`, `gbps` or
    /// `samples_per_sec`).
    pub fn rate(&self, ns: f64) -> (&'static str, f64) {
        match *self {
            // FLOP per nanosecond is GFLOP per second; bytes per ns is GB/s.
            Work::Flops(f) => ("gflops", f / ns),
            Work::Bytes(b) => ("gbps", b / ns),
            Work::Samples(n) => ("samples_per_sec", n * 1e9 / ns),
        }
    }
}

/// One measured result, ready to print.
#[derive(Clone, Debug)]
pub struct Record {
    /// Case name (`matmul_f32_1024`).
    pub name: String,
    /// Backend name (`cpu`, `wgpu`).
    pub backend: String,
    /// Element type (`f32`).
    pub dtype: String,
    /// Shapes of the inputs.
    pub shape: Vec<Vec<usize>>,
    /// Threads in rayon's global pool. On WGPU the kernels run on the device, so this is only
    /// the host pool size.
    pub threads: usize,
    /// Median time per call.
    pub median_ns: f64,
    /// Work per call.
    pub work: Work,
}

impl Record {
    /// The JSON object: `name, backend, dtype, shape, threads, median_ns` and `gflops`/`gbps`.
    pub fn to_json(&self) -> Value {
        let (key, rate) = self.work.rate(self.median_ns);
        let mut v = json!({
            "name": self.name,
            "backend": self.backend,
            "dtype": self.dtype,
            "shape": self.shape,
            "threads": self.threads,
            "median_ns": round_to(self.median_ns, 1),
        });
        v[key] = json!(round_to(rate, 3));
        v
    }

    /// One human-readable line: name, backend, threads, median time with a unit, throughput.
    pub fn to_text(&self) -> String {
        let (key, rate) = self.work.rate(self.median_ns);
        let unit = match key {
            "gflops" => "GFLOP/s",
            "gbps" => "GB/s",
            _ => "samples/s",
        };
        format!(
            "{:<28} {:<5} {:>4} thr  {:>12}  {:>9.2} {unit}",
            self.name,
            self.backend,
            self.threads,
            format_ns(self.median_ns),
            rate
        )
    }
}

fn round_to(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

/// `1234.5` → `"1.23 µs"`.
pub fn format_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.3} s", ns / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even_and_unsorted() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn work_rates_use_per_nanosecond_units() {
        // 2·1024³ FLOP in 0.01 s is 214.7 GFLOP/s.
        let (k, r) = Work::matmul(1024, 1024, 1024).rate(1e7);
        assert_eq!(k, "gflops");
        assert!((r - 2.0 * 1024f64.powi(3) / 1e7).abs() < 1e-9);
        let (k, r) = Work::bytes(1 << 20, 12).rate(1e6);
        assert_eq!(k, "gbps");
        assert!((r - 12.0 * (1 << 20) as f64 / 1e6).abs() < 1e-9);
        // 8·64·64·3·3·56·56 multiply-adds, two FLOP each.
        let Work::Flops(f) = Work::conv2d(8, 64, 64, [3, 3], [56, 56]) else {
            panic!()
        };
        assert_eq!(f, 2.0 * (8 * 64 * 64 * 9 * 56 * 56) as f64);
    }

    #[test]
    fn measure_counts_calls_and_propagates_errors() {
        let cfg = TimingConfig::with_min_time(Duration::from_millis(20));
        let mut calls = 0u64;
        let t = measure::<()>(&cfg, || {
            calls += 1;
            std::thread::sleep(Duration::from_micros(200));
            Ok(())
        })
        .unwrap();
        assert!(t.samples >= cfg.min_samples);
        assert!(calls >= t.samples as u64 * t.iters_per_sample);
        assert!(
            t.median_ns >= 200_000.0,
            "median {} below the sleep time",
            t.median_ns
        );
        let mut n = 0;
        let r = measure(&cfg, || {
            n += 1;
            if n == 3 {
                Err("boom")
            } else {
                Ok(())
            }
        });
        assert_eq!(r.unwrap_err(), "boom");
    }

    #[test]
    fn json_has_the_documented_fields() {
        let r = Record {
            name: "add_f32_1m".into(),
            backend: "cpu".into(),
            dtype: "f32".into(),
            shape: vec![vec![1 << 20], vec![1 << 20]],
            threads: 2,
            median_ns: 1000.0,
            work: Work::bytes(1 << 20, 12),
        };
        let v = r.to_json();
        for k in [
            "name",
            "backend",
            "dtype",
            "shape",
            "threads",
            "median_ns",
            "gbps",
        ] {
            assert!(v.get(k).is_some(), "missing {k} in {v}");
        }
        assert!(v.get("gflops").is_none());
        assert_eq!(v["shape"][0][0], 1 << 20);
    }
}
