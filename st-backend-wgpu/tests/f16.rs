//! f16 on WGPU with odd element counts (buffers hold two f16 per word) and unaligned views,
//! checked against f32 math rounded once in the test. On an adapter without `SHADER_F16` the
//! same calls must fail with the backend's "adapter lacks SHADER_F16" error instead, while
//! f16 storage (upload, download) and casts *to* f16 from f32 keep working.
//!
//! Needs an adapter (Mesa lavapipe in CI, run with `ST_REQUIRE_WGPU=1`).

use half::f16;
mod common;

use common::wgpu_device;
use st_backend_wgpu as _;
use st_core::backend::backend;
use st_core::{DType, Device, Error, Result, Tensor};

/// Deterministic f16 values in about [-3, 3] (exact in f16), none zero.
fn values(n: usize, seed: usize) -> Vec<f16> {
    (0..n)
        .map(|i| f16::from_f32(((i * 7 + seed * 13) % 23) as f32 / 4.0 - 2.875))
        .collect()
}

fn has_f16() -> Result<bool> {
    st_backend_wgpu::has_f16()
}

/// Each op under test (named as its kernel reports it) with its f16 result, as read back.
fn run_ops(dev: &Device, dims: &[usize]) -> Result<Vec<(&'static str, Result<Vec<f16>>)>> {
    let n: usize = dims.iter().product();
    let ta = Tensor::from_vec(values(n, 1), dims.to_vec(), dev)?;
    let tb = Tensor::from_vec(values(n, 2), dims.to_vec(), dev)?;
    let last = dims.len() as isize - 1;
    let w = dims[dims.len() - 1];
    let read = |t: Result<Tensor>| t.and_then(|t| t.to_vec::<f16>());
    Ok(vec![
        ("exp", read(ta.exp())),
        ("add", read(ta.add(&tb))),
        ("mul", read(ta.mul(&tb))),
        ("sum", read(ta.sum_all())),
        ("softmax", read(ta.softmax(last))),
        // Starts one element into the buffer: a view that is not word-aligned.
        ("exp", read(ta.narrow(last, 1, w - 1).and_then(|v| v.exp()))),
    ])
}

/// The same ops on the host: f32 math on the f16 values, rounded to f16 once.
fn expected(dims: &[usize]) -> Vec<(&'static str, Vec<f16>)> {
    let n: usize = dims.iter().product();
    let (a, b) = (values(n, 1), values(n, 2));
    let w = dims[dims.len() - 1];
    let zip = |f: fn(f32, f32) -> f32| -> Vec<f16> {
        a.iter()
            .zip(&b)
            .map(|(x, y)| f16::from_f32(f(x.to_f32(), y.to_f32())))
            .collect()
    };
    let sum: f32 = a.iter().map(|x| x.to_f32()).sum();
    let mut softmax = Vec::with_capacity(n);
    for row in a.chunks(w) {
        let m = row
            .iter()
            .map(|x| x.to_f32())
            .fold(f32::NEG_INFINITY, f32::max);
        let s: f32 = row.iter().map(|x| (x.to_f32() - m).exp()).sum();
        softmax.extend(
            row.iter()
                .map(|x| f16::from_f32((x.to_f32() - m).exp() / s)),
        );
    }
    let narrow_exp = a
        .chunks(w)
        .flat_map(|row| row[1..].iter().map(|x| f16::from_f32(x.to_f32().exp())))
        .collect();
    vec![
        (
            "exp",
            a.iter().map(|x| f16::from_f32(x.to_f32().exp())).collect(),
        ),
        ("add", zip(|x, y| x + y)),
        ("mul", zip(|x, y| x * y)),
        ("sum", vec![f16::from_f32(sum)]),
        ("softmax", softmax),
        ("exp", narrow_exp),
    ]
}

const SHAPES: [&[usize]; 4] = [&[3], &[5, 7], &[1], &[2, 3, 5]];

#[test]
fn f16_storage_round_trips_odd_lengths_on_any_adapter() -> Result<()> {
    let Some(dev) = wgpu_device() else {
        return Ok(());
    };
    for dims in SHAPES {
        let n: usize = dims.iter().product();
        let host = values(n, 3);
        let t = Tensor::from_vec(host.clone(), dims.to_vec(), &dev)?;
        assert_eq!(t.to_vec::<f16>()?, host, "upload/download of {dims:?}");
        // A contiguous view starting mid-word reads back without a kernel.
        let flat = t.reshape(&[-1])?.narrow(0, 1, n - 1)?;
        assert_eq!(
            flat.to_vec::<f16>()?,
            host[1..],
            "view at element 1 of {dims:?}"
        );
        // f32 -> f16 is an f32 kernel with a software rounding: no SHADER_F16 needed.
        let f: Vec<f32> = (0..n).map(|i| i as f32 * 0.3 - 1.7).collect();
        let want: Vec<f16> = f.iter().map(|&x| f16::from_f32(x)).collect();
        let got = Tensor::from_vec(f, dims.to_vec(), &dev)?.to_dtype(DType::F16)?;
        assert_eq!(got.to_vec::<f16>()?, want, "f32 -> f16 cast of {dims:?}");
    }
    Ok(())
}

#[test]
fn f16_kernels_compute_or_report_the_missing_feature() -> Result<()> {
    let Some(dev) = wgpu_device() else {
        return Ok(());
    };
    let reason = backend(dev.backend())?.dtype_unsupported(dev.ordinal(), DType::F16);
    eprintln!(
        "adapter: {}; f16 unsupported: {reason:?}",
        backend(dev.backend())?.describe(0)
    );
    assert_eq!(reason.is_none(), has_f16()?);
    for dims in SHAPES {
        for ((op, got), (_, want)) in run_ops(&dev, dims)?.into_iter().zip(expected(dims)) {
            match (&reason, got) {
                (None, Ok(g)) => {
                    assert_eq!(g.len(), want.len(), "{op} {dims:?}: length");
                    for (i, (x, y)) in g.iter().zip(&want).enumerate() {
                        let (x, y) = (x.to_f32(), y.to_f32());
                        // About one f16 ulp (2^-10 relative) of slack for the device's
                        // rounding and its f32 exp / summation order.
                        assert!(
                            (x - y).abs() <= 1e-3 + 2e-3 * y.abs(),
                            "{op} {dims:?} [{i}]: got {x}, expected {y}"
                        );
                    }
                }
                (None, Err(e)) => panic!("{op} {dims:?}: the adapter has SHADER_F16 but {e}"),
                (Some(r), Ok(_)) => panic!("{op} {dims:?}: an f16 kernel ran although {r}"),
                (Some(r), Err(Error::Backend { backend, source })) => {
                    let msg = source.to_string();
                    assert_eq!(backend, "wgpu");
                    assert!(
                        msg.starts_with(op) && msg.contains(r.as_str()) && msg.contains("f16"),
                        "{op} {dims:?}: unclear error: {msg}"
                    );
                    assert!(r.contains("SHADER_F16"), "{r}");
                }
                (Some(_), Err(e)) => {
                    panic!("{op} {dims:?}: expected the SHADER_F16 error, got {e:?}")
                }
            }
        }
    }
    Ok(())
}
