//! WGSL kernel families and the shader generator they share.
//!
//! Each family `<f>.rs` pairs with `shaders/<f>.wgsl`, a library of WGSL functions; the Rust
//! side generates the bindings, typed loads and stores and the entry point around it, keyed by
//! a variant string for the pipeline cache. `shaders/common.wgsl` is the prelude every variant
//! starts with.
//!
//! Dtypes map to WGSL as: f32 → `f32`, i32 → `i32`, bool and u8 → `u32` holding the byte
//! (stored packed, four per word, each invocation writing whole words), i64 → two words (only as
//! an output or an index input). Kernels declare exactly these dtypes in their registrations.

pub mod binary;
pub mod compare;
pub mod conv;
pub mod copy;
pub mod index;

pub mod matmul;
pub mod reduce;
pub mod softmax;
pub mod ternary;
pub mod unary;

use crate::buffer::WgpuBuffer;
use crate::device::{gpu, Gpu};
use st_core::dispatch::{KernelArgs, KernelInput};
use st_core::storage::Storage;
use st_core::{DType, Error, Result};
use std::fmt::Write;
use std::sync::Arc;

/// The shared prelude.
pub const COMMON: &str = include_str!("../../shaders/common.wgsl");

/// WGSL value type of a dtype. f64, f16 and bf16 are only produced (as raw bits, by `cast`),
/// never loaded.
pub fn wgsl_type(dt: DType) -> &'static str {
    match dt {
        DType::F32 => "f32",
        DType::I32 => "i32",
        DType::Bool | DType::U8 | DType::F16 | DType::BF16 => "u32",
        DType::I64 | DType::F64 => "vec2<u32>",
    }
}

/// The error for a dtype WGSL kernels do not handle.
pub fn no_wgsl(op: &'static str, dt: DType) -> Error {
    Error::DTypeMismatch {
        op,
        got: vec![dt],
        reason: "the wgpu backend has no WGSL kernel for this dtype".into(),
    }
}

/// WGSL function `fn <name>(e: u32) -> T` loading element `e` of array `var`.
pub fn loader(op: &'static str, name: &str, var: &str, dt: DType) -> Result<String> {
    let body = match dt {
        DType::F32 => format!("return bitcast<f32>({var}[e]);"),
        DType::I32 => format!("return bitcast<i32>({var}[e]);"),
        DType::Bool | DType::U8 => format!("return ({var}[e >> 2u] >> ((e & 3u) * 8u)) & 0xffu;"),
        DType::I64 => format!("return vec2<u32>({var}[2u * e], {var}[2u * e + 1u]);"),
        _ => return Err(no_wgsl(op, dt)),
    };
    Ok(format!(
        "fn {name}(e: u32) -> {} {{ {body} }}\n",
        wgsl_type(dt)
    ))
}

/// Little helper building the `meta` words of a dispatch.
#[derive(Default, Clone, Debug)]
pub struct Meta(pub Vec<u32>);

impl Meta {
    /// Appends a count or index, failing when it does not fit 32 bits.
    pub fn u(&mut self, op: &'static str, v: usize) -> Result<&mut Self> {
        let w = u32::try_from(v).map_err(|_| crate::error::too_large(op, v))?;
        self.0.push(w);
        Ok(self)
    }

    /// Appends a signed stride.
    pub fn i(&mut self, op: &'static str, v: isize) -> Result<&mut Self> {
        let w = i32::try_from(v).map_err(|_| crate::error::too_large(op, v))?;
        self.0.push(w as u32);
        Ok(self)
    }

    /// Appends raw bits.
    pub fn bits(&mut self, w: u32) -> &mut Self {
        self.0.push(w);
        self
    }
}

/// The wgpu buffer of a kernel input.
pub fn raw<'a>(inp: &'a KernelInput<'a>, op: &'static str) -> Result<&'a wgpu::Buffer> {
    Ok(WgpuBuffer::downcast(inp.buffer, op)?.raw())
}

/// Bytes of `n` elements of `dt`.
pub fn bytes_of(n: usize, dt: DType) -> usize {
    n * dt.size_in_bytes()
}

/// An elementwise kernel: `out[i] = expr(x0, x1, ...)` over inputs already broadcast to the
/// output shape, each with its own strides.
pub struct Elementwise<'a> {
    /// Pipeline-cache key of the variant (op and dtypes).
    pub key: String,
    /// WGSL library of the family.
    pub lib: &'static str,
    /// Inputs (their layouts give offsets and strides).
    pub inputs: &'a [KernelInput<'a>],
    /// Output dtype.
    pub out: DType,
    /// WGSL expression of type `wgsl_type(out)` over `x0`, `x1`, ... and `st_sf(j)` etc.
    pub expr: String,
    /// Scalar parameter words (meta slots 2..5).
    pub scalars: [u32; 4],
}

impl Elementwise<'_> {
    fn source(&self, op: &'static str) -> Result<String> {
        let n_in = self.inputs.len();
        let mut s = String::from(COMMON);
        for (k, inp) in self.inputs.iter().enumerate() {
            let _ = writeln!(
                s,
                "@group(0) @binding({}) var<storage, read> in{k}: array<u32>;",
                k + 1
            );
            s.push_str(&loader(
                op,
                &format!("ld{k}"),
                &format!("in{k}"),
                inp.dtype,
            )?);
        }
        let _ = writeln!(
            s,
            "@group(0) @binding({}) var<storage, read_write> out: array<u32>;",
            n_in + 1
        );
        s.push_str(self.lib);
        let ty = wgsl_type(self.out);
        let _ = writeln!(s, "fn value(i: u32) -> {ty} {{");
        for k in 0..n_in {
            let _ = writeln!(s, "    let x{k} = ld{k}(st_view_off({k}u, i));");
        }
        let _ = writeln!(s, "    return {};\n}}", self.expr);
        s.push_str(
            "@compute @workgroup_size(256)\nfn main(@builtin(global_invocation_id) gid: vec3<u32>, \
             @builtin(num_workgroups) nwg: vec3<u32>) {\n    let t = st_tid(gid, nwg);\n    let n = st_meta[0];\n",
        );
        s.push_str(match self.out {
            DType::F32 | DType::I32 => {
                "    if (t >= n) { return; }\n    out[t] = bitcast<u32>(value(t));\n}\n"
            }
            DType::I64 | DType::F64 => {
                "    if (t >= n) { return; }\n    let v = value(t);\n    out[2u * t] = v.x;\n    out[2u * t + 1u] = v.y;\n}\n"
            }
            DType::F16 | DType::BF16 => {
                "    if (t * 2u >= n) { return; }\n    var w = 0u;\n    for (var j = 0u; j < 2u; j = j + 1u) {\n        let i = t * 2u + j;\n        if (i < n) { w = w | ((value(i) & 0xffffu) << (16u * j)); }\n    }\n    out[t] = w;\n}\n"
            }
            _ => {
                "    if (t * 4u >= n) { return; }\n    var w = 0u;\n    for (var j = 0u; j < 4u; j = j + 1u) {\n        let i = t * 4u + j;\n        if (i < n) { w = w | ((value(i) & 0xffu) << (8u * j)); }\n    }\n    out[t] = w;\n}\n"
            }
        });
        Ok(s)
    }

    /// Runs the kernel for `args`, returning the contiguous output.
    pub fn run(&self, args: &KernelArgs<'_>) -> Result<Storage> {
        let op = args.op.name();
        let g = gpu()?;
        let shape = args.out_shape;
        let n = shape.numel();
        let out = g.alloc(bytes_of(n, self.out));
        let mut m = Meta::default();
        m.u(op, n)?.u(op, shape.rank())?;
        for w in self.scalars {
            m.bits(w);
        }
        for &d in shape.dims() {
            m.u(op, d)?;
        }
        let mut bufs: Vec<&wgpu::Buffer> = Vec::with_capacity(self.inputs.len() + 1);
        for inp in self.inputs {
            let l = &inp.layout;
            if l.rank() != shape.rank() {
                return Err(Error::Internal(format!(
                    "{op}: input of rank {} for output {shape}",
                    l.rank()
                )));
            }
            m.u(op, l.offset())?;
            for &st in l.strides() {
                m.i(op, st)?;
            }
            bufs.push(raw(inp, op)?);
        }
        bufs.push(out.raw());
        let threads = match self.out {
            DType::Bool | DType::U8 => n.div_ceil(4),
            DType::F16 | DType::BF16 => n.div_ceil(2),
            _ => n,
        } as u64;
        for inp in self.inputs {
            loader(op, "ld", "in", inp.dtype)?;
        }
        // The dtypes were validated above, so generating the source cannot fail.
        let src = || self.source(op).unwrap_or_default();
        g.run(&self.key, "main", &src, &m.0, &bufs, g.grid_1d(threads))?;
        Ok(Arc::new(out))
    }
}

/// Shorthand used by the families: the process-wide device.
pub fn dev() -> Result<Arc<Gpu>> {
    gpu()
}
