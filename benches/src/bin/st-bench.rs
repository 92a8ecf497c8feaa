//! `st-bench`: times the benchmark cases on the selected backends (`--backend cpu|wgpu|all`,
//! default `cpu`) and prints one line per case (JSON with `--json`). See the `st_benches` crate
//! docs for the timing method.
//!
//! ```text
//! cargo run --release -p st-benches --bin st-bench -- --json [--backend cpu|wgpu|all]
//!     [--filter SUBSTR] [--threads N]
//! ```

use clap::Parser;
use st_backend_wgpu as _;
use st_benches::{cases_for, measure, BackendChoice, Case, Record, TimingConfig};
use st_core::Device;
use std::process::ExitCode;
use std::time::Duration;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(
    name = "st-bench",
    about = "SpiralTorch benchmarks (CPU, WGPU), one line per case"
)]
struct Args {
    /// Print one JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
    /// Backends to run: the CPU (every case), WGPU adapter 0 (matmul 256/1024, add 1M,
    /// softmax), or both.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
    /// Run only cases whose name contains this substring.
    #[arg(long)]
    filter: Option<String>,
    /// Worker threads for the global rayon pool (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Minimum measured seconds per case.
    #[arg(long, default_value_t = 0.5)]
    min_time: f64,
    /// List the selected cases, with their backend, and exit.
    #[arg(long)]
    list: bool,
}

/// The selected (backend, cases) pairs after `--filter`.
fn plan(args: &Args) -> Vec<(&'static str, Vec<Case>)> {
    args.backend
        .names()
        .iter()
        .map(|&b| {
            let cases = cases_for(b)
                .into_iter()
                .filter(|c| args.filter.as_deref().is_none_or(|f| c.name.contains(f)))
                .collect();
            (b, cases)
        })
        .collect()
}

/// Device 0 of the backend named `backend`.
fn open(backend: &str) -> st_core::Result<Device> {
    if backend == "cpu" {
        Ok(Device::cpu())
    } else {
        Device::new(backend, 0)
    }
}

/// Writes one line to stdout and flushes it, so each case's result shows as soon as it is
/// measured. `Some(code)` means stop with that exit code: success when the reader went away
/// (`st-bench | head`, where `println!` would panic), failure on any other write error.
fn emit(line: &str) -> Option<ExitCode> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Ok(()) => None,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Some(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("st-bench: cannot write the results: {e}");
            Some(ExitCode::FAILURE)
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let plan = plan(&args);
    if args.list {
        for (backend, cases) in &plan {
            for c in cases {
                if let Some(code) = emit(&format!("{:<28} {backend}", c.name)) {
                    return code;
                }
            }
        }
        return ExitCode::SUCCESS;
    }
    if let Some(n) = args.threads {
        if n == 0 {
            eprintln!("st-bench: --threads must be at least 1");
            return ExitCode::FAILURE;
        }
        // Built before any tensor work, so every kernel runs in this pool.
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
        {
            eprintln!("st-bench: cannot build a {n}-thread pool: {e}");
            return ExitCode::FAILURE;
        }
    }
    if !(args.min_time.is_finite() && args.min_time > 0.0) {
        eprintln!("st-bench: --min-time must be a positive number of seconds");
        return ExitCode::FAILURE;
    }
    let total: usize = plan.iter().map(|(_, c)| c.len()).sum();
    if total == 0 {
        eprintln!(
            "st-bench: no case matches {:?} on {:?}",
            args.filter.unwrap_or_default(),
            args.backend.names()
        );
        return ExitCode::FAILURE;
    }
    // Open every selected device before timing anything, so a missing adapter fails fast.
    let mut devices = Vec::new();
    for (backend, _) in &plan {
        match open(backend) {
            Ok(d) => {
                // On stderr, so `--json` output stays one record per line.
                if !d.is_cpu() {
                    if let Ok(b) = st_core::backend::backend(d.backend()) {
                        eprintln!("st-bench: {backend} device 0: {}", b.describe(d.ordinal()));
                    }
                }
                devices.push(d);
            }
            Err(e) => {
                eprintln!("st-bench: --backend {backend}: {e}");
                if *backend == "wgpu" {
                    eprintln!(
                        "st-bench: WGPU needs a Vulkan, Metal or DX12 adapter; without a GPU on \
                         Linux, install Mesa's lavapipe (apt-get install mesa-vulkan-drivers)"
                    );
                }
                return ExitCode::FAILURE;
            }
        }
    }
    let cfg = TimingConfig::with_min_time(Duration::from_secs_f64(args.min_time));
    let threads = rayon::current_num_threads();
    let mut failed = 0;
    for ((_, cases), device) in plan.iter().zip(&devices) {
        for case in cases {
            let timing = case
                .build(device)
                .and_then(|mut run| measure(&cfg, &mut run));
            match timing {
                Ok(t) => {
                    let rec = Record {
                        name: case.name.to_string(),
                        backend: device.backend().name().to_string(),
                        dtype: case.dtype.as_str().to_string(),
                        shape: case.shapes.clone(),
                        threads,
                        median_ns: t.median_ns,
                        work: case.work,
                    };
                    let line = if args.json {
                        rec.to_json().to_string()
                    } else {
                        rec.to_text()
                    };
                    if let Some(code) = emit(&line) {
                        return code;
                    }
                }
                Err(e) => {
                    failed += 1;
                    eprintln!(
                        "st-bench: case {} on {} failed: {e}",
                        case.name,
                        device.backend().name()
                    );
                }
            }
        }
    }
    if failed > 0 {
        eprintln!("st-bench: {failed} of {total} cases failed");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("st-bench").chain(argv.iter().copied()))
    }

    #[test]
    fn backend_defaults_to_cpu_and_accepts_wgpu_and_all() {
        assert_eq!(parse(&[]).unwrap().backend, BackendChoice::Cpu);
        assert_eq!(
            parse(&["--backend", "wgpu"]).unwrap().backend,
            BackendChoice::Wgpu
        );
        assert_eq!(
            parse(&["--backend=all"]).unwrap().backend,
            BackendChoice::All
        );
        assert!(parse(&["--backend", "tpu"]).is_err());
    }

    #[test]
    fn plan_selects_backends_in_order_and_applies_the_filter() {
        let args = parse(&["--backend", "all", "--filter", "matmul"]).unwrap();
        let plan: Vec<(&str, Vec<&str>)> = plan(&args)
            .into_iter()
            .map(|(b, cs)| (b, cs.iter().map(|c| c.name).collect()))
            .collect();
        assert_eq!(
            plan,
            [
                (
                    "cpu",
                    vec!["matmul_f32_256", "matmul_f32_1024", "matmul_f32_2048"]
                ),
                ("wgpu", vec!["matmul_f32_256", "matmul_f32_1024"]),
            ]
        );
    }
}
