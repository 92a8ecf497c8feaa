//! `st-bench`: times the benchmark cases on the CPU backend and prints one line per case
//! (JSON with `--json`). See the `st_benches` crate docs for the timing method.
//!
//! ```text
//! cargo run --release -p st-benches --bin st-bench -- --json [--filter SUBSTR] [--threads N]
//! ```

use clap::Parser;
use st_benches::{all_cases, measure, Record, TimingConfig};
use st_core::Device;
use std::process::ExitCode;
use std::time::Duration;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(
    name = "st-bench",
    about = "SpiralTorch CPU benchmarks, one line per case"
)]
struct Args {
    /// Print one JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
    /// Run only cases whose name contains this substring.
    #[arg(long)]
    filter: Option<String>,
    /// Worker threads for the global rayon pool (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Minimum measured seconds per case.
    #[arg(long, default_value_t = 0.5)]
    min_time: f64,
    /// List the case names and exit.
    #[arg(long)]
    list: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let cases: Vec<_> = all_cases()
        .into_iter()
        .filter(|c| args.filter.as_deref().is_none_or(|f| c.name.contains(f)))
        .collect();
    if args.list {
        for c in &cases {
            println!("{}", c.name);
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
    if cases.is_empty() {
        eprintln!(
            "st-bench: no case matches {:?}",
            args.filter.unwrap_or_default()
        );
        return ExitCode::FAILURE;
    }
    let cfg = TimingConfig::with_min_time(Duration::from_secs_f64(args.min_time));
    let threads = rayon::current_num_threads();
    let device = Device::cpu();
    let mut failed = 0;
    for case in &cases {
        let timing = case
            .build(&device)
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
                if args.json {
                    println!("{}", rec.to_json());
                } else {
                    println!("{}", rec.to_text());
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("st-bench: case {} failed: {e}", case.name);
            }
        }
    }
    if failed > 0 {
        eprintln!("st-bench: {failed} of {} cases failed", cases.len());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
