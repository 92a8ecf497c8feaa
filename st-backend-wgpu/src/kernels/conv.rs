//! conv2d (direct, grouped, strided, padded, dilated), im2col and col2im on contiguous f32 or
//! f16 NCHW tensors (`shaders/conv.wgsl`; f16 accumulates in f32, Note [f16 kernels]). Pools
//! are composites over im2col in st-core.

use super::{dev, float_prelude, raw, Meta};
use st_core::backend::Storage;
use st_core::dispatch::{KernelArgs, KernelCaps};
use st_core::op::{OpId, OpParams};
use st_core::register_kernel;
use st_core::{DType, Error, Result};

const LIB: &str = include_str!("../../shaders/conv.wgsl");

struct Geometry {
    n: usize,
    c: usize,
    hw: [usize; 2],
    o: usize,
    k: [usize; 2],
    ohw: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 2],
    dil: [usize; 2],
    groups: usize,
    pad_value: f32,
}

fn geometry(args: &KernelArgs<'_>) -> Result<Geometry> {
    let x = args.inputs[0].layout.dims();
    let os = args.out_shape.dims();
    match (args.op, args.params) {
        (OpId::Conv2d, OpParams::Conv2d(p)) => {
            let w = args.inputs[1].layout.dims();
            Ok(Geometry {
                n: x[0],
                c: x[1],
                hw: [x[2], x[3]],
                o: w[0],
                k: [w[2], w[3]],
                ohw: [os[2], os[3]],
                stride: p.stride,
                pad: p.padding,
                dil: p.dilation,
                groups: p.groups,
                pad_value: 0.0,
            })
        }
        (OpId::Im2Col | OpId::Col2Im, OpParams::Window(p)) => {
            let kk = p.kernel[0] * p.kernel[1];
            let (n, c) = if args.op == OpId::Im2Col {
                (x[0], x[1])
            } else {
                (x[0], x[1] / kk)
            };
            Ok(Geometry {
                n,
                c,
                hw: p.image,
                o: 1,
                k: p.kernel,
                ohw: p.out_hw(),
                stride: p.stride,
                pad: p.padding,
                dil: p.dilation,
                groups: 1,
                pad_value: p.pad_value as f32,
            })
        }
        (op, p) => Err(Error::Internal(format!("{op}: unexpected params {p:?}"))),
    }
}

/// The WGSL of the f32 or f16 variant.
pub fn source(dt: DType) -> String {
    format!("{}{LIB}", float_prelude(dt))
}

fn conv(args: &KernelArgs<'_>) -> Result<Storage> {
    let op = args.op.name();
    let Some(first) = args.inputs.first() else {
        return Err(Error::Internal(format!("{op} kernel called without input")));
    };
    let dt = first.dtype;
    if !matches!(dt, DType::F32 | DType::F16) || args.inputs.iter().any(|i| i.dtype != dt) {
        return Err(super::no_wgsl(op, dt));
    }
    super::require_f16(op, [dt])?;
    let g = geometry(args)?;
    let n_out = args.out_shape.numel();
    let mut m = Meta::default();
    m.u(op, n_out)?
        .u(op, g.n)?
        .u(op, g.c)?
        .u(op, g.hw[0])?
        .u(op, g.hw[1])?
        .u(op, g.o)?;
    m.u(op, g.k[0])?
        .u(op, g.k[1])?
        .u(op, g.ohw[0])?
        .u(op, g.ohw[1])?;
    m.u(op, g.stride[0])?
        .u(op, g.stride[1])?
        .u(op, g.pad[0])?
        .u(op, g.pad[1])?;
    m.u(op, g.dil[0])?.u(op, g.dil[1])?.u(op, g.groups)?;
    m.u(op, args.inputs[0].layout.offset())?;
    let w_off = args.inputs.get(1).map_or(0, |w| w.layout.offset());
    m.u(op, w_off)?.bits(g.pad_value.to_bits());
    let gpu = dev()?;
    let out = gpu.alloc(super::bytes_of(n_out, dt));
    let x = raw(&args.inputs[0], op)?;
    let (entry, bufs): (&'static str, Vec<&wgpu::Buffer>) = match args.op {
        OpId::Conv2d => ("conv2d", vec![x, out.raw(), raw(&args.inputs[1], op)?]),
        OpId::Im2Col => ("im2col", vec![x, out.raw()]),
        _ => ("col2im", vec![x, out.raw()]),
    };
    let src = || source(dt);
    gpu.run(
        &format!("conv/{dt}"),
        entry,
        &src,
        &m.0,
        &bufs,
        gpu.grid_1d(n_out as u64),
    )?;
    Ok(Storage::new(out))
}

register_kernel!(Conv2d, "wgpu", [F32, F16], conv, KernelCaps::CONTIGUOUS);
register_kernel!(Im2Col, "wgpu", [F32, F16], conv, KernelCaps::CONTIGUOUS);
register_kernel!(Col2Im, "wgpu", [F32, F16], conv, KernelCaps::CONTIGUOUS);
