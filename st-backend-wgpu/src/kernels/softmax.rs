//! softmax / log_softmax over one dim (`shaders/softmax.wgsl`), f32 and f16 (math in f32,
//! Note [f16 kernels]), contiguous inputs (the dispatcher copies strided ones with the
//! strided `copy` kernel first).

use super::{dev, float_prelude, raw, Meta};
use st_core::backend::Storage;
use st_core::dispatch::{KernelArgs, KernelCaps};
use st_core::op::{OpId, OpParams};
use st_core::register_kernel;
use st_core::{DType, Error, Result};

const LIB: &str = include_str!("../../shaders/softmax.wgsl");

/// The WGSL of the f32 or f16 variant.
pub fn source(dt: DType) -> String {
    format!("{}{LIB}", float_prelude(dt))
}

fn softmax(args: &KernelArgs<'_>) -> Result<Storage> {
    let name = args.op.name();
    let Some(x) = args.inputs.first() else {
        return Err(Error::Internal(format!(
            "{name} kernel called without input"
        )));
    };
    let dt = x.dtype;
    if !matches!(dt, DType::F32 | DType::F16) {
        return Err(super::no_wgsl(name, dt));
    }
    super::require_f16(name, [dt])?;
    let OpParams::Dim(dim) = args.params else {
        return Err(Error::Internal(format!(
            "{name}: unexpected params {:?}",
            args.params
        )));
    };
    let dims = x.layout.dims();
    let (outer, d, inner) = if dims.is_empty() {
        (1, 1, 1)
    } else {
        let outer: usize = dims[..*dim].iter().product();
        let inner: usize = dims[*dim + 1..].iter().product();
        (outer, dims[*dim], inner)
    };
    let rows = outer * inner;
    let mut m = Meta::default();
    m.u(name, rows)?
        .u(name, d)?
        .u(name, inner.max(1))?
        .u(name, x.layout.offset())?;
    m.bits((args.op == OpId::LogSoftmax) as u32);
    let g = dev()?;
    let out = g.alloc(super::bytes_of(args.out_shape.numel(), dt));
    let src = || source(dt);
    if rows > 0 && d > 0 {
        g.run(
            &format!("softmax/{dt}"),
            "main",
            &src,
            &m.0,
            &[raw(x, name)?, out.raw()],
            g.grid_items(rows as u64),
        )?;
    }
    Ok(Storage::new(out))
}

register_kernel!(Softmax, "wgpu", [F32, F16], softmax, KernelCaps::CONTIGUOUS);
register_kernel!(
    LogSoftmax,
    "wgpu",
    [F32, F16],
    softmax,
    KernelCaps::CONTIGUOUS
);
