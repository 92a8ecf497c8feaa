//! The parent: hands out case ranges to child processes, watches them for hangs, reads their
//! reports, names the case that killed a child (and re-runs it alone to see whether it
//! reproduces in isolation), then resumes after it. Ends with a [`Summary`].

use super::child::now_ms;
use super::config::Config;
use super::gen::unescape;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Outcome counts of one op.
#[derive(Default, Clone, Copy)]
pub struct Counts {
    /// Returned Ok (and passed the sanity checks).
    pub ok: u64,
    /// Returned Err (within the contract).
    pub err: u64,
    /// Building the inputs returned Err (the op was not called).
    pub skip: u64,
    /// Panicked, aborted, hung or failed a sanity check.
    pub fail: u64,
    /// Microseconds spent in cases that did not fail.
    pub us: u64,
}

/// One failing case.
pub struct Failure {
    /// Op (entry name, refined for `dispatch_on`; `setup` when building inputs failed).
    pub op: String,
    /// Panic location, `abort: ...`, `hang: ...` or `sanity check`.
    pub site: String,
    /// Panic message, or the child's last stderr lines.
    pub msg: String,
    /// Case index.
    pub idx: u64,
    /// Reproduction text.
    pub text: Vec<String>,
    /// Extra information (whether an abort reproduces alone).
    pub note: String,
}

/// Everything a run found.
#[derive(Default)]
pub struct Summary {
    /// Cases that ran to an outcome.
    pub cases: u64,
    /// Per-op counts.
    pub counts: BTreeMap<String, Counts>,
    /// Failing cases.
    pub failures: Vec<Failure>,
    /// Reproduction text and outcome of every case (single-case mode only).
    pub traces: Vec<String>,
    /// Child processes started.
    pub children: u64,
}

struct Running {
    child: Child,
    from: u64,
    to: u64,
    report: PathBuf,
    stderr: PathBuf,
    last_len: u64,
    last_progress: Instant,
    hung: bool,
}

/// What a report file said.
struct Parsed {
    /// `D next`: the child stopped cleanly before case `next`.
    finished: Option<u64>,
    /// A case that started and never ended: (idx, op, text).
    unfinished: Option<(u64, String, Vec<String>)>,
    /// The last case that ended.
    last_done: Option<u64>,
}

fn spawn(
    cfg: &Config,
    dir: &Path,
    n: u64,
    from: u64,
    to: u64,
    deadline: u64,
) -> Result<Running, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let report = dir.join(format!("child-{n}.report"));
    let stderr = dir.join(format!("child-{n}.stderr"));
    let err_file = File::create(&stderr).map_err(|e| format!("{}: {e}", stderr.display()))?;
    let child = Command::new(exe)
        .args([
            "fuzz_api",
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env("ST_FUZZ_CHILD", "1")
        .env("ST_FUZZ_FROM", from.to_string())
        .env("ST_FUZZ_TO", to.to_string())
        .env("ST_FUZZ_REPORT", &report)
        .env("ST_FUZZ_DEADLINE_MS", deadline.to_string())
        .env("ST_FUZZ_SEED", cfg.seed.to_string())
        // The allocation-failure handler then prints a backtrace, which names the allocating
        // function of an abort.
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(err_file))
        .spawn()
        .map_err(|e| format!("spawning the child: {e}"))?;
    Ok(Running {
        child,
        from,
        to,
        report,
        stderr,
        last_len: 0,
        last_progress: Instant::now(),
        hung: false,
    })
}

/// Reads a report, adding finished cases to `sum`.
fn parse(path: &Path, sum: &mut Summary, trace: bool) -> Parsed {
    let bytes = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let mut out = Parsed {
        finished: None,
        unfinished: None,
        last_done: None,
    };
    let mut cur: Option<(u64, String, Vec<String>)> = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ' ');
        let (tag, idx, rest) = (
            parts.next().unwrap_or(""),
            parts.next().and_then(|s| s.parse::<u64>().ok()),
            parts.next().unwrap_or(""),
        );
        let Some(idx) = idx else { continue };
        match tag {
            "S" => cur = Some((idx, unescape(rest), Vec::new())),
            "L" | "N" => {
                if let Some((i, op, lines)) = cur.as_mut() {
                    if *i == idx && tag == "L" {
                        lines.push(unescape(rest));
                    } else if *i == idx {
                        *op = unescape(rest);
                    }
                }
            }
            "O" | "E" | "K" | "F" => {
                let Some((i, op, lines)) = cur.take() else {
                    continue;
                };
                if i != idx {
                    continue;
                }
                sum.cases += 1;
                out.last_done = Some(idx);
                let c = sum.counts.entry(op.clone()).or_default();
                if tag != "F" {
                    c.us += rest.trim().parse::<u64>().unwrap_or(0);
                }
                let outcome = match tag {
                    "O" => {
                        c.ok += 1;
                        "Ok".to_string()
                    }
                    "E" => {
                        c.err += 1;
                        "Err".to_string()
                    }
                    "K" => {
                        c.skip += 1;
                        "Err while building inputs".to_string()
                    }
                    _ => {
                        c.fail += 1;
                        let mut f = rest.splitn(3, '\t').map(unescape);
                        let (fop, site, msg) = (
                            f.next().unwrap_or_default(),
                            f.next().unwrap_or_default(),
                            f.next().unwrap_or_default(),
                        );
                        let o = format!("FAILURE at {site}: {msg}");
                        sum.failures.push(Failure {
                            op: fop,
                            site,
                            msg,
                            idx,
                            text: lines.clone(),
                            note: String::new(),
                        });
                        o
                    }
                };
                if trace {
                    sum.traces.push(format!(
                        "case {idx} ({op}):\n    {}\n    => {outcome}",
                        lines.join("\n    ")
                    ));
                }
            }
            "D" => out.finished = Some(idx),
            _ => {}
        }
    }
    out.unfinished = cur;
    out
}

/// From a dead child's stderr: its last lines (without libtest's chatter), the line that
/// says why it died (allocation failure, stack overflow, ...), and the innermost SpiralTorch
/// frame of the backtrace printed after that line, if any.
fn stderr_tail(path: &Path) -> (String, String, Option<String>) {
    let bytes = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("running ") && !l.starts_with("note:"))
        .collect();
    const WHY: [&str; 4] = [
        "memory allocation of",
        "overflowed its stack",
        "fatal runtime error",
        "panicked",
    ];
    let at = lines
        .iter()
        .rposition(|l| WHY.iter().any(|w| l.contains(w)));
    let why = at.map_or(lines.last().copied().unwrap_or(""), |i| lines[i]);
    let frame = at.and_then(|i| {
        lines[i..]
            .iter()
            .filter_map(|l| l.strip_prefix("at "))
            .filter_map(super::child::crate_path)
            .find(|p| p.starts_with("st-core/src/"))
            .map(|p| p.rsplit_once(':').map_or(p.clone(), |(a, _)| a.to_string()))
    });
    let tail = lines
        .iter()
        .filter(|l| !l.starts_with("at ") && !l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .copied()
        .collect::<Vec<_>>();
    let tail = tail[tail.len().saturating_sub(3)..].join(" | ");
    (tail, why.to_string(), frame)
}

fn describe(status: Option<ExitStatus>) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.and_then(|s| s.signal()) {
            let name = match sig {
                4 => "SIGILL",
                5 => "SIGTRAP",
                6 => "SIGABRT",
                7 => "SIGBUS",
                8 => "SIGFPE",
                9 => "SIGKILL",
                11 => "SIGSEGV",
                _ => "signal",
            };
            return format!("{name} ({sig})");
        }
    }
    match status.and_then(|s| s.code()) {
        Some(c) => format!("exit code {c}"),
        None => "unknown exit".into(),
    }
}

/// Digits replaced by `N`, so that "allocation of 4096 bytes" and "of 8192 bytes" group.
fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_digit = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !prev_digit {
                out.push('N');
            }
            prev_digit = true;
        } else {
            out.push(c);
            prev_digit = false;
        }
    }
    out
}

/// Waits for `r` to end, killing it after `timeout` without progress.
fn wait(mut r: Running, timeout: Duration) -> (Running, Option<ExitStatus>) {
    loop {
        if let Ok(Some(s)) = r.child.try_wait() {
            return (r, Some(s));
        }
        let len = std::fs::metadata(&r.report).map_or(0, |m| m.len());
        if len != r.last_len {
            r.last_len = len;
            r.last_progress = Instant::now();
        } else if r.last_progress.elapsed() > timeout {
            r.hung = true;
            let _ = r.child.kill();
            let s = r.child.wait().ok();
            return (r, s);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

struct Run<'a> {
    cfg: &'a Config,
    dir: PathBuf,
    sum: Summary,
    queue: VecDeque<(u64, u64)>,
    classes: HashSet<(String, String)>,
    timeout: Duration,
    deadline: Instant,
    deadline_ms: u64,
}

impl Run<'_> {
    fn spawn(&mut self, from: u64, to: u64, deadline_ms: u64) -> Option<Running> {
        self.sum.children += 1;
        match spawn(
            self.cfg,
            &self.dir,
            self.sum.children,
            from,
            to,
            deadline_ms,
        ) {
            Ok(r) => Some(r),
            Err(e) => {
                self.harness_failure(from, format!("cannot start a child: {e}"), String::new());
                None
            }
        }
    }

    fn harness_failure(&mut self, idx: u64, site: String, msg: String) {
        self.sum.failures.push(Failure {
            op: "harness".into(),
            site,
            msg,
            idx,
            text: Vec::new(),
            note: String::new(),
        });
    }

    /// Reads a finished child's report; names and records the case that killed it, and
    /// queues the rest of its range.
    fn finish(&mut self, r: Running, status: Option<ExitStatus>) {
        let parsed = parse(&r.report, &mut self.sum, self.cfg.case.is_some());
        if parsed.finished.is_some() {
            return;
        }
        let (tail, why, frame) = stderr_tail(&r.stderr);
        let frame = frame.map_or(String::new(), |f| format!(" in {f}"));
        let how = if r.hung {
            format!(
                "killed after {} s without progress",
                self.timeout.as_secs_f64()
            )
        } else {
            describe(status)
        };
        let (idx, op, text, site) = match parsed.unfinished {
            Some((idx, op, text)) => {
                let site = if r.hung {
                    format!("hang: no progress for {} s", self.timeout.as_secs_f64())
                } else {
                    format!("abort: {how}: {}{frame}", normalize(&why))
                };
                (idx, op, text, site)
            }
            None => {
                // Died between cases (in a destructor, say) or before the first one.
                let idx = parsed.last_done.unwrap_or(r.from);
                let site = format!("child died outside a case ({how}): {}", normalize(&why));
                (idx, "harness".to_string(), Vec::new(), site)
            }
        };
        self.sum.cases += 1;
        self.sum.counts.entry(op.clone()).or_default().fail += 1;
        let new_class = self.classes.insert((op.clone(), site.clone()));
        let note = match () {
            _ if r.hung || op == "harness" => String::new(),
            _ if idx == r.from => "reproduces alone (the first case of its child)".into(),
            _ if new_class => self.rerun_alone(r.from, idx),
            _ => String::new(),
        };
        self.sum.failures.push(Failure {
            op,
            site,
            msg: format!("{how}; stderr: {tail}"),
            idx,
            text,
            note,
        });
        if idx + 1 < r.to && Instant::now() < self.deadline {
            self.queue.push_front((idx + 1, r.to));
        }
    }

    /// Re-runs case `idx` in a fresh child, to tell whether it aborts on its own or only after
    /// the cases `from..idx` that ran before it in the same child.
    fn rerun_alone(&mut self, from: u64, idx: u64) -> String {
        let deadline = now_ms() + self.timeout.as_millis() as u64;
        let Some(r) = self.spawn(idx, idx + 1, deadline) else {
            return String::new();
        };
        let (r, _) = wait(r, self.timeout);
        let mut scratch = Summary::default();
        let parsed = parse(&r.report, &mut scratch, false);
        if parsed.finished.is_none() && parsed.unfinished.is_some() {
            "reproduces when run alone".into()
        } else {
            format!(
                "does not reproduce alone: depends on the cases before it in its child \
                 (re-run them with ST_FUZZ_FIRST={from} ST_FUZZ_CASES={} ST_FUZZ_JOBS=1)",
                idx + 1 - from
            )
        }
    }

    fn main_loop(&mut self) {
        let (mut next, end) = match self.cfg.case {
            Some(i) => (i, i + 1),
            None => (
                self.cfg.first,
                self.cfg.first.saturating_add(self.cfg.cases),
            ),
        };
        let mut running: Vec<Running> = Vec::new();
        loop {
            while running.len() < self.cfg.jobs
                && (self.cfg.case.is_some() || Instant::now() < self.deadline)
            {
                let range = match self.queue.pop_front() {
                    Some(r) => r,
                    None if next < end => {
                        let r = (next, (next + self.cfg.chunk).min(end));
                        next = r.1;
                        r
                    }
                    None => break,
                };
                match self.spawn(range.0, range.1, self.deadline_ms) {
                    Some(r) => running.push(r),
                    None => break,
                }
            }
            if running.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(15));
            let mut i = 0;
            while i < running.len() {
                let r = &mut running[i];
                let len = std::fs::metadata(&r.report).map_or(0, |m| m.len());
                if len != r.last_len {
                    r.last_len = len;
                    r.last_progress = Instant::now();
                }
                match r.child.try_wait() {
                    Ok(Some(status)) => {
                        let r = running.swap_remove(i);
                        self.finish(r, Some(status));
                        continue;
                    }
                    Ok(None) if r.last_progress.elapsed() > self.timeout => {
                        r.hung = true;
                        let _ = r.child.kill();
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let from = r.from;
                        let _ = r.child.kill();
                        running.swap_remove(i);
                        self.harness_failure(
                            from,
                            format!("waiting for a child: {e}"),
                            String::new(),
                        );
                        continue;
                    }
                }
                i += 1;
            }
        }
    }
}

/// Runs the whole fuzzing session described by `cfg`.
pub fn run(cfg: &Config) -> Summary {
    let dir = std::env::temp_dir().join(format!("st-fuzz-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        let mut sum = Summary::default();
        sum.failures.push(Failure {
            op: "harness".into(),
            site: format!("cannot create {}: {e}", dir.display()),
            msg: String::new(),
            idx: 0,
            text: Vec::new(),
            note: String::new(),
        });
        return sum;
    }
    let mut run = Run {
        cfg,
        dir: dir.clone(),
        sum: Summary::default(),
        queue: VecDeque::new(),
        classes: HashSet::new(),
        timeout: Duration::from_secs_f64(cfg.timeout.max(0.1)),
        deadline: Instant::now() + Duration::from_secs_f64(cfg.seconds.max(0.0)),
        deadline_ms: now_ms() + (cfg.seconds.max(0.0) * 1000.0) as u64,
    };
    run.main_loop();
    if std::env::var_os("ST_FUZZ_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    run.sum
}
