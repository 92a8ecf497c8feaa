//! Shared by the plugin tests: builds the example and fixture plugin libraries with cargo (same
//! target directory and profile as the test binary, once per test binary) and finds them.

// Each test binary uses only part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The cdylib packages the plugin tests load.
pub const PACKAGES: [&str; 4] = [
    "op-counter",
    "fault-fixture",
    "bad-declaration",
    "fused-ops",
];

/// Environment variable naming where `package`'s library is, for child processes.
pub fn env_name(package: &str) -> String {
    format!("ST_TEST_LIB_{}", package.replace('-', "_").to_uppercase())
}

/// File name of `package`'s shared library on this platform.
fn file_name(package: &str) -> String {
    format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        package.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    )
}

/// Builds every package of [`PACKAGES`] (once) and returns `package`'s library. In a child
/// process started by a fault test, returns the path the parent passed instead of building.
pub fn library(package: &str) -> PathBuf {
    if let Ok(p) = std::env::var(env_name(package)) {
        return PathBuf::from(p);
    }
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let profile_dir = BUILT.get_or_init(build_all);
    let lib = profile_dir.join(file_name(package));
    assert!(lib.exists(), "{} not built", lib.display());
    lib
}

fn build_all() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test binary>
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let target_dir = profile_dir.parent().unwrap();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
    let mut cmd = std::process::Command::new(cargo);
    cmd.current_dir(workspace).arg("build");
    for p in PACKAGES {
        cmd.args(["-p", p]);
    }
    cmd.arg("--target-dir").arg(target_dir);
    if profile_dir.file_name().and_then(|n| n.to_str()) == Some("release") {
        cmd.arg("--release");
    }
    let status = cmd
        .status()
        .expect("running cargo build for the plugin fixtures");
    assert!(status.success(), "cargo build of {PACKAGES:?} failed");
    profile_dir
}

/// A fresh, empty temporary directory for `what`, unique to this process.
pub fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("st-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Copies `lib` into `dir` under `name` and returns the copy.
pub fn copy_as(lib: &Path, dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(format!(
        "{}{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    std::fs::copy(lib, &to).unwrap();
    to
}

/// Environment variable telling a re-run test binary which case to run as a child.
pub const CASE_ENV: &str = "ST_TEST_CASE";

/// The case this process was started to run by [`run_in_child`], if any. Each test binary using
/// children has a `#[test] fn child_case()` that returns at once when this is `None`.
pub fn child_case() -> Option<String> {
    std::env::var(CASE_ENV).ok()
}

/// Line a child prints when `case` passed.
pub fn child_passed(case: &str) {
    println!("child case {case}: ok");
}

/// Runs `case` in a child process (this test binary re-run as `--exact child_case` with
/// [`CASE_ENV`] set; with `libraries`, the fixture libraries are built first and passed on), and
/// fails unless it exits successfully within `timeout` after reporting success. A crash, abort,
/// hang or failed assertion in the child thus fails this test instead of the whole harness.
pub fn run_in_child(case: &str, libraries: bool, timeout: std::time::Duration) {
    use std::process::{Command, Stdio};
    use std::time::Instant;
    let exe = std::env::current_exe().unwrap();
    let dir = temp_dir(&format!("child-{case}"));
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "child_case", "--nocapture", "--test-threads=1"])
        .env(CASE_ENV, case)
        .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err).unwrap()));
    if libraries {
        for p in PACKAGES {
            cmd.env(env_name(p), library(p));
        }
    }
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > timeout {
            child.kill().ok();
            child.wait().ok();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let stdout = std::fs::read_to_string(&out).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    let passed = stdout.contains(&format!("child case {case}: ok"));
    assert!(
        status.is_some_and(|s| s.success()) && passed,
        "child case {case}: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        match status {
            None => format!("timed out after {timeout:?} (killed)"),
            Some(s) => format!("exited with {s}"),
        }
    );
    std::fs::remove_dir_all(&dir).ok();
}
