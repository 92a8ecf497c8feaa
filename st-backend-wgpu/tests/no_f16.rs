//! The f16-less path on any adapter: with `ST_WGPU_DISABLE_F16=1` the device opens without
//! `SHADER_F16`, the backend reports f16 as unsupported, and the conformance runner then
//! demands that every f16 sample of every op fails with that backend error (samples that need
//! no f16 kernel, such as contiguous views, must still match the reference). f32 keeps
//! working, and so do f16 storage and f32 → f16 casts.
//!
//! This binary holds one test, so setting the variable before the device opens is race-free.
//! Needs an adapter (Mesa lavapipe in CI, run with `ST_REQUIRE_WGPU=1`).

mod common;
mod known_gaps;

use half::f16;
use st_backend_wgpu::DISABLE_F16_ENV;
use st_core::backend::backend;
use st_core::testing::{run_forward, spec};
use st_core::{DType, Error, OpId, Result, Tensor};

#[test]
fn without_shader_f16_every_f16_op_fails_clearly() -> Result<()> {
    std::env::set_var(DISABLE_F16_ENV, "1");
    let Some(dev) = common::wgpu_device() else {
        return Ok(());
    };
    assert!(!st_backend_wgpu::has_f16()?);
    let reason = backend(dev.backend())?
        .dtype_unsupported(dev.ordinal(), DType::F16)
        .expect("f16 is reported unsupported");
    assert!(reason.contains("SHADER_F16"), "{reason}");
    assert_eq!(
        backend(dev.backend())?.dtype_unsupported(dev.ordinal(), DType::F32),
        None
    );

    // The error itself: backend wgpu, naming the op, f16 and the reason.
    let x = Tensor::from_vec(vec![f16::ONE, f16::from_f32(-2.5), f16::ZERO], [3], &dev)?;
    match x.exp() {
        Err(Error::Backend { backend, source }) => {
            let msg = source.to_string();
            assert_eq!(backend, "wgpu");
            assert!(msg.starts_with("exp: dtype f16"), "{msg}");
            assert!(msg.contains(&reason), "{msg}");
        }
        other => panic!("expected the SHADER_F16 error, got {other:?}"),
    }
    // Storage and casts into f16 need no f16 shader.
    assert_eq!(
        x.to_vec::<f16>()?,
        [f16::ONE, f16::from_f32(-2.5), f16::ZERO]
    );
    let y = Tensor::from_vec(vec![0.1f32, 70000.0, -3.0], [3], &dev)?.to_dtype(DType::F16)?;
    assert_eq!(
        y.to_vec::<f16>()?,
        [f16::from_f32(0.1), f16::INFINITY, f16::from_f32(-3.0)]
    );

    // Every op's f16 conformance test, in its "unsupported" mode; f32 as usual.
    let mut failures = Vec::new();
    let mut probed = 0;
    for &op in OpId::ALL {
        let sp = spec(op);
        if sp.dtypes.contains(&DType::F16) {
            probed += 1;
            if let Err(f) = run_forward(op, "f16", "wgpu", known_gaps::GAPS) {
                failures.push(format!("{f:?}"));
            }
        }
    }
    for op in [OpId::Exp, OpId::Add, OpId::Sum, OpId::Matmul] {
        if let Err(f) = run_forward(op, "f32", "wgpu", known_gaps::GAPS) {
            failures.push(format!("{f:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(probed > 60, "only {probed} ops have f16 in their spec");
    Ok(())
}
