//! The child process: runs a range of cases, each under `catch_unwind`, and appends one line
//! per event to its report file, so that the parent can name the case even when the process
//! dies (abort, stack overflow, segfault) or hangs.
//!
//! Report lines (fields escaped with [`escape`], tab-separated where there are several):
//! `S idx op` case started, `L idx text` reproduction line, `N idx op` op renamed,
//! `O idx us` / `E idx us` / `K idx us` Ok / Err / building the inputs returned Err (with the
//! microseconds taken), `F idx op\tsite\tmessage` failure, `D next` the child stopped cleanly
//! before case `next`.

use super::case::{backward, sanity, Entry, Out};
use super::config::Config;
use super::gen::{escape, Gen};
use super::{ops_create, ops_handle, ops_inplace, ops_math, ops_nn, ops_raw, ops_shape};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// How many times `dispatch_on` appears in the draw (it covers every `OpId`).
const DISPATCH_WEIGHT: usize = 24;
/// How many times `from_storage` appears in the draw.
const STORAGE_WEIGHT: usize = 4;

/// Every entry, weighted, restricted to the `ST_FUZZ_OPS` filter when one is set.
pub fn entries(filter: &Option<Vec<String>>) -> Vec<&'static Entry> {
    let mut all: Vec<&'static Entry> = Vec::new();
    for table in [
        ops_math::ELEMENTWISE,
        ops_math::REDUCTIONS,
        ops_inplace::INPLACE,
        ops_shape::MOVEMENT,
        ops_shape::INDEXING,
        ops_nn::NN,
        ops_create::CREATE,
        ops_handle::HANDLE,
        ops_raw::RAW,
    ] {
        for e in table {
            let w = match e.name {
                "dispatch_on" => DISPATCH_WEIGHT,
                "from_storage" => STORAGE_WEIGHT,
                _ => 1,
            };
            all.extend(std::iter::repeat_n(e, w));
        }
    }
    match filter {
        Some(names) => all
            .into_iter()
            .filter(|e| names.iter().any(|n| n == e.name))
            .collect(),
        None => all,
    }
}

/// Milliseconds since the Unix epoch (the deadline is passed to children in this unit).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The panic site and message of the last panic, set by the hook.
static LAST_PANIC: Mutex<Option<(String, String)>> = Mutex::new(None);

fn take_panic() -> Option<(String, String)> {
    LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// Where a panic happened: its location when that is in SpiralTorch's sources, else the
/// innermost SpiralTorch frame of a backtrace (for panics inside std, such as an overflowing
/// `Iterator::product` or a capacity overflow), with the std location after it.
fn site(info: &std::panic::PanicHookInfo<'_>) -> String {
    let loc = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()))
        .unwrap_or_default();
    if let Some(s) = crate_path(&loc) {
        return s;
    }
    let bt = std::backtrace::Backtrace::force_capture().to_string();
    let frame = bt
        .lines()
        .filter_map(|l| l.trim().strip_prefix("at "))
        .filter_map(crate_path)
        .find(|p| p.starts_with("st-core/src/"));
    match frame {
        Some(f) => {
            let f = f
                .rsplit_once(':')
                .map_or(f.as_str(), |(a, _)| a)
                .to_string();
            let std_loc = loc.find("library/").map_or(loc.as_str(), |i| &loc[i..]);
            format!("{f} (in {std_loc})")
        }
        None => loc,
    }
}

/// `st-core/...` for a path in this crate (panic locations say `st-core/src/x.rs`,
/// backtraces `./src/x.rs` or an absolute path), `None` for paths elsewhere.
pub fn crate_path(p: &str) -> Option<String> {
    if let Some(i) = p.find("st-core/") {
        return Some(p[i..].to_string());
    }
    ["./src/", "./tests/", "src/", "tests/"]
        .iter()
        .find(|pre| p.starts_with(*pre))
        .map(|_| format!("st-core/{}", p.trim_start_matches("./")))
}

fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        let p = info.payload();
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "<non-string panic payload>".into());
        let s = site(info);
        *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = Some((s, msg));
    }));
}

/// Caps the address space, so that an allocation the generator did not foresee fails (an
/// abort the parent reports) instead of zero-filling gigabytes on an overcommitting system.
#[cfg(target_os = "linux")]
fn limit_memory(mb: u64) {
    let bytes = mb.saturating_mul(1 << 20) as libc::rlim_t;
    let lim = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    // SAFETY: setrlimit reads a valid, initialized rlimit struct; no memory is shared.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) };
    if rc != 0 {
        eprintln!("st-fuzz child: setrlimit(RLIMIT_AS) failed; running without a memory cap");
    }
}

#[cfg(not(target_os = "linux"))]
fn limit_memory(_mb: u64) {}

/// Child entry point: runs cases `from..to` until the deadline, reporting to `report`.
pub fn run(cfg: &Config, from: u64, to: u64, report: &str, deadline_ms: u64) {
    limit_memory(cfg.mem_mb);
    let mut file = match OpenOptions::new().create(true).append(true).open(report) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("st-fuzz child: cannot open report {report}: {e}");
            std::process::exit(3);
        }
    };
    install_hook();
    let entries = entries(&cfg.ops);
    let mut next = from;
    while next < to && (next == from || now_ms() < deadline_ms) {
        run_case(cfg.seed, next, &entries, &mut file);
        next += 1;
    }
    let _ = writeln!(file, "D {next}");
}

fn run_case(seed: u64, idx: u64, entries: &[&'static Entry], file: &mut File) {
    if entries.is_empty() {
        let _ = writeln!(file, "S {idx} none\nK {idx}");
        return;
    }
    let mut g = Gen::new(seed, idx, "", file.try_clone().ok());
    let e = entries[g.int(0, entries.len() - 1)];
    g.op = e.name.to_string();
    let _ = writeln!(file, "S {idx} {}", escape(e.name));
    st_core::manual_seed(seed ^ idx);
    take_panic();
    let start = std::time::Instant::now();
    let r = catch_unwind(AssertUnwindSafe(|| (e.run)(&mut g)));
    let mut failure: Option<(String, String, String)> = None;
    let mut status = 'O';
    match r {
        Err(payload) => failure = Some(panic_record(&mut g, "", payload)),
        Ok(Err(_)) => status = if g.called { 'E' } else { 'K' },
        Ok(Ok(out)) => {
            let after = catch_unwind(AssertUnwindSafe(|| check(&mut g, &out)));
            if let Err(payload) = after {
                failure = Some(panic_record(&mut g, ".backward", payload));
            }
        }
    }
    if failure.is_none() {
        if let Some((kind, msg)) = g.sanity.first() {
            failure = Some((g.op.clone(), format!("sanity: {kind}"), msg.clone()));
        }
    }
    match failure {
        Some((op, site, msg)) => {
            let _ = writeln!(
                file,
                "F {idx} {}\t{}\t{}",
                escape(&op),
                escape(&site),
                escape(&msg)
            );
        }
        None => {
            let us = start.elapsed().as_micros();
            let _ = writeln!(file, "{status} {idx} {us}");
        }
    }
}

/// Sanity checks, then (for cases with grad-requiring leaves, usually) a backward pass.
fn check(g: &mut Gen, out: &Out) {
    let readable = g.readable;
    sanity(g, out, readable);
    if g.grad && !g.leaves.is_empty() && g.p(0.8) {
        // An Err from backward is within the contract.
        let _ = backward(g, out);
    }
}

/// The (op, site, message) of a caught panic. Panics before the call under test started are
/// filed under op `setup`, with the expression that was being built.
fn panic_record(
    g: &mut Gen,
    phase: &str,
    payload: Box<dyn std::any::Any + Send>,
) -> (String, String, String) {
    let (site, msg) = take_panic().unwrap_or_else(|| {
        let m = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        ("<unknown site>".into(), m)
    });
    let op = if site.starts_with("st-core/tests/") {
        "harness".to_string()
    } else if g.called {
        format!("{}{phase}", g.op)
    } else {
        let p = std::mem::take(&mut g.pending);
        g.line(format!("// panicked while building: {p}"));
        "setup".to_string()
    };
    (op, site, msg)
}
