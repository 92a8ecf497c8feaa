//! Settings from environment variables (documented in the `fuzz_api` module docs).

use std::env;

/// The fuzzing run's settings.
pub struct Config {
    /// `ST_FUZZ_SEED`: the run's seed; case `i` is a pure function of (seed, i).
    pub seed: u64,
    /// `ST_FUZZ_FIRST`: the first case index.
    pub first: u64,
    /// `ST_FUZZ_CASES`: the number of cases (the run stops earlier at the time budget).
    pub cases: u64,
    /// `ST_FUZZ_SECONDS`: the time budget for running cases, in seconds.
    pub seconds: f64,
    /// `ST_FUZZ_JOBS`: child processes running at once.
    pub jobs: usize,
    /// `ST_FUZZ_TIMEOUT`: seconds without progress after which a case counts as hung.
    pub timeout: f64,
    /// `ST_FUZZ_CHUNK`: cases per child process.
    pub chunk: u64,
    /// `ST_FUZZ_CASE`: run only this case and print it.
    pub case: Option<u64>,
    /// `ST_FUZZ_OPS`: comma-separated entry names to restrict the draw to.
    pub ops: Option<Vec<String>>,
    /// `ST_FUZZ_MEM_MB`: address-space cap of each child, in MiB.
    pub mem_mb: u64,
    /// `ST_FUZZ_SUMMARY`: also write the summary to this file.
    pub summary: Option<String>,
}

fn var<T: std::str::FromStr>(name: &str) -> Option<T> {
    env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

impl Config {
    /// Reads the settings, with the defaults of the bounded CI run.
    pub fn from_env() -> Config {
        let jobs = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        Config {
            seed: var("ST_FUZZ_SEED").unwrap_or(1),
            first: var("ST_FUZZ_FIRST").unwrap_or(0),
            cases: var("ST_FUZZ_CASES").unwrap_or(1_000_000),
            seconds: var("ST_FUZZ_SECONDS").unwrap_or(45.0),
            jobs: var::<usize>("ST_FUZZ_JOBS").unwrap_or(jobs).max(1),
            timeout: var("ST_FUZZ_TIMEOUT").unwrap_or(5.0),
            chunk: var::<u64>("ST_FUZZ_CHUNK").unwrap_or(2000).max(1),
            case: var("ST_FUZZ_CASE"),
            ops: env::var("ST_FUZZ_OPS").ok().map(|s| {
                s.split(',')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect()
            }),
            mem_mb: var("ST_FUZZ_MEM_MB").unwrap_or(4096),
            summary: env::var("ST_FUZZ_SUMMARY").ok(),
        }
    }

    /// The environment assignments that reproduce case `idx` of this run.
    pub fn repro(&self, idx: u64) -> String {
        let ops = self
            .ops
            .as_ref()
            .map_or(String::new(), |o| format!("ST_FUZZ_OPS={} ", o.join(",")));
        format!(
            "ST_FUZZ_SEED={} {ops}ST_FUZZ_CASE={idx} cargo test -p st-core --all-features \
             --test fuzz_api -- --nocapture",
            self.seed
        )
    }
}
