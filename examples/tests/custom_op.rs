//! Runs `examples/custom_op.rs` (built by `cargo test` with the other examples) and checks
//! that it finished: forward and backward, gradcheck, conformance on the CPU (and WGPU where an
//! adapter exists), the op in the profiler trace, and the unload.

use std::path::PathBuf;
use std::process::Command;

fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/<this test> → target/<profile>/examples/<name>
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().and_then(|d| d.parent()).unwrap();
    profile
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

#[test]
fn custom_op_example_runs() {
    let bin = example("custom_op");
    assert!(bin.exists(), "{} not built", bin.display());
    let out = Command::new(&bin).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for line in [
        "gradcheck: ok",
        "conformance (cpu): ok",
        "profiler: fused::bias_gelu x",
        "unloaded: custom ops now []",
    ] {
        assert!(stdout.contains(line), "missing '{line}' in:\n{stdout}");
    }
    if std::env::var("ST_REQUIRE_WGPU").is_ok_and(|v| v == "1") {
        assert!(stdout.contains("conformance (wgpu"), "{stdout}");
    }
}
