//! Robustness fuzzing of st-core's public API: every `Tensor` method, `dispatch_on` with every
//! `OpId` and random (often malformed) `OpParams`, `Tensor::from_storage` with layouts and
//! dtypes that do not match the buffer, and the CPU backend's `upload`/`download`, on random
//! inputs. The contract under test: **every call returns `Ok` or `Err`; nothing panics,
//! aborts, crashes or hangs**, whatever the arguments.
//!
//! # What the inputs look like
//!
//! Shapes are 0-d, small, rank up to 8 (and 63-130 for permute/transpose), zero-size, and
//! zero-size with absurd other dims (`[0, 1 << 40, 1 << 40]`); shape *arguments* may also be
//! absurd (`[1 << 40]`, `[usize::MAX]`) or have an overflowing product. Tensors come in every
//! dtype and in random layouts: transposed, permuted, sliced with a step, narrowed or
//! selected (nonzero offset), expanded (stride 0), empty with a nonzero offset, stacked up to
//! two deep. Arguments include out-of-range and negative axes, out-of-range and negative
//! indices (and float or bool ids for `embedding`), zero kernel dims, absurd padding and
//! dilation, groups that do not divide, integer scalars far outside the dtype
//! (`i32.add_scalar(3e9)`), `pow` with huge exponents, and `arange` / `linspace` / `eye` /
//! `rand*` with huge, infinite and NaN arguments. Float inputs sometimes require grad; then
//! `backward` runs on the result in several ways, and leaf gradients must have leaf shapes.
//!
//! Memory safety of the harness itself: every size is either small (a case materializes at
//! most about a million elements) or absurd (at least 2^40 elements, or overflowing), where an
//! error is the only correct outcome; see `fuzz/gen.rs`. Children also run under an
//! address-space cap (`ST_FUZZ_MEM_MB`), so an unforeseen large allocation fails instead of
//! zero-filling gigabytes.
//!
//! # How it runs
//!
//! This test (the parent) starts copies of its own executable (the children) with this test
//! as the exact filter and `ST_FUZZ_CHILD` set. Each child runs a range of cases, each under
//! `catch_unwind` with a silent panic hook that records the panic site, and appends one line
//! per event to a report file. When a child dies (SIGABRT from a failed allocation, stack
//! overflow, SIGSEGV) or stops making progress (`ST_FUZZ_TIMEOUT`), the parent names the case
//! that was running from the report, re-runs it alone in a fresh child to see whether it
//! reproduces in isolation, and resumes after it. Case `i` is a pure function of the seed and
//! `i` (its own ChaCha stream), so any case re-runs alone.
//!
//! At the end the parent prints a summary (counts per op, failures grouped by op and panic
//! site, each with its message, the shortest reproduction text in Rust and a command line that
//! re-runs it) and asserts that nothing failed. `Err` results are fine; `Ok` results pass
//! cheap checks (element count matches the dims, the data reads back).
//!
//! # Running
//!
//! ```text
//! cargo test -p st-core --all-features --test fuzz_api            # the bounded CI run
//! cargo test -p st-core --all-features --test fuzz_api -- --nocapture   # with the summary
//! ST_FUZZ_SECONDS=3600 ST_FUZZ_CASES=100000000 \
//!     cargo test -p st-core --all-features --release --test fuzz_api -- --nocapture  # long run
//! ST_FUZZ_SEED=1 ST_FUZZ_CASE=1234 cargo test -p st-core --all-features --test fuzz_api \
//!     -- --nocapture                                              # one case, printed
//! ```
//!
//! Settings (environment variables):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `ST_FUZZ_SEED` | 1 | run seed |
//! | `ST_FUZZ_FIRST` | 0 | index of the first case |
//! | `ST_FUZZ_CASES` | 1000000 | cases to run (or fewer, when the time budget ends first) |
//! | `ST_FUZZ_SECONDS` | 45 | time budget for starting cases, in seconds |
//! | `ST_FUZZ_JOBS` | cores, at most 4 | child processes at once |
//! | `ST_FUZZ_TIMEOUT` | 5 | seconds without progress before a case counts as hung |
//! | `ST_FUZZ_CHUNK` | 2000 | cases per child process |
//! | `ST_FUZZ_CASE` | unset | run only this case and print its text and outcome |
//! | `ST_FUZZ_OPS` | unset | comma-separated entry names (`exp,narrow,dispatch_on`) to draw from |
//! | `ST_FUZZ_MEM_MB` | 4096 | address-space cap per child (Linux) |
//! | `ST_FUZZ_SUMMARY` | unset | also write the summary to this file |
//! | `ST_FUZZ_KEEP` | unset | keep the children's report files (in the temp dir) |
//!
//! The defaults keep the debug-build run under a minute of wall time on two cores. Without
//! defects, the million cases take about 35 s there, and every case runs. When cases hang or
//! abort, the 45 s budget ends the run, with at most one hang timeout after it.
//!
//! # Adding an op
//!
//! Add one line to the table of its family (`fuzz/ops_*.rs`), usually with an existing
//! helper: `"exp" => |g| unary(g, Tensor::exp, false)`. Entries build inputs with `Gen`, log
//! the call with `g.call(text)` and return `done(result)`.

mod fuzz;

use fuzz::config::Config;

#[test]
fn fuzz_api() {
    let cfg = Config::from_env();
    if std::env::var_os("ST_FUZZ_CHILD").is_some() {
        let var = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
        let (from, to) = (
            var("ST_FUZZ_FROM").unwrap_or(0),
            var("ST_FUZZ_TO").unwrap_or(0),
        );
        let deadline = var("ST_FUZZ_DEADLINE_MS").unwrap_or(0);
        let report = std::env::var("ST_FUZZ_REPORT").unwrap_or_default();
        fuzz::child::run(&cfg, from, to, &report, deadline);
        return;
    }
    let mut names: Vec<&str> = fuzz::child::entries(&None).iter().map(|e| e.name).collect();
    names.dedup();
    assert!(
        !fuzz::child::entries(&cfg.ops).is_empty(),
        "ST_FUZZ_OPS matches no entry; the entries are: {}",
        names.join(", ")
    );
    let start = std::time::Instant::now();
    let sum = fuzz::parent::run(&cfg);
    let text = fuzz::summary::render(&cfg, &sum, start.elapsed().as_secs_f64());
    println!("{text}");
    if let Some(path) = &cfg.summary {
        if let Err(e) = std::fs::write(path, &text) {
            println!("cannot write the summary to {path}: {e}");
        }
    }
    assert!(sum.cases > 0, "no fuzz case ran");
    let classes = fuzz::summary::groups(&sum).len();
    assert!(
        sum.failures.is_empty(),
        "{} failing fuzz cases in {classes} classes (summary above)",
        sum.failures.len()
    );
}
