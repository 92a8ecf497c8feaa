//! The shader generator the kernel families share: dtype → WGSL type mapping, typed loaders,
//! the f32/f16 float prelude, the f16 capability check, dispatch `meta` words and the
//! [`Elementwise`] kernel.
//!
//! Dtypes map to WGSL as: f32 → `f32`, i32 → `i32`, bool and u8 → `u32` holding the byte
//! (stored packed, four per word, each invocation writing whole words), i64 → two words (only as
//! an output or an index input), f16 → native `f16` in an `array<f16>` binding (see
//! Note [f16 kernels]). Kernels declare exactly these dtypes in their registrations.
//!
//! # Note [f16 kernels]
//!
//! An f16 variant is the family's f32 WGSL with the element type substituted: it starts with
//! `enable f16;`, binds f16 tensors as `array<f16>` (2 bytes per element; buffers are padded to
//! whole words, so odd element counts need nothing special) and stores with `f16(..)`. Math
//! runs the way PyTorch's `opmath` and our CPU kernels do it: loaded values are widened to f32
//! (exact), the f32 expression is evaluated, and the result is rounded to f16 once; sums,
//! products, softmax, matmul and conv accumulate in f32 (scatter_add rounds after each
//! addition, like the CPU kernel). Pure data movement (copy, where, masked_fill, cat,
//! index_select, gather) moves `f16` values without widening.
//!
//! These shaders need `wgpu::Features::SHADER_F16`. On a device without it every f16 kernel
//! fails up front with the backend error of [`crate::error::f16_unsupported`] (see
//! [`require_f16`]) — nothing falls back to f32 kernels or host conversions — and the backend's
//! `dtype_unsupported(F16)` reports the same reason so the conformance suite can expect it.
//! (Casts *to* f16 from other dtypes are kernels of their source dtype and produce the f16
//! bits in software, so they work on every adapter.)

use crate::buffer::WgpuBuffer;
use crate::device::{gpu, Gpu};
use st_core::backend::Storage;
use st_core::dispatch::{KernelArgs, KernelInput};
use st_core::{DType, Error, Layout, Result, Shape};
use std::fmt::Write;
use std::sync::Arc;

/// The shared prelude.
pub const COMMON: &str = include_str!("../../shaders/common.wgsl");

/// WGSL value type of a dtype. f64 and bf16 are only produced (as raw bits, by `cast`), never
/// loaded.
pub fn wgsl_type(dt: DType) -> &'static str {
    match dt {
        DType::F32 => "f32",
        DType::F16 => "f16",
        DType::I32 => "i32",
        DType::Bool | DType::U8 | DType::BF16 => "u32",
        DType::I64 | DType::F64 => "vec2<u32>",
    }
}

/// Element type of the `array<..>` a tensor of `dt` is bound as: `f16` for f16, `u32` words
/// for everything else.
pub fn storage_type(dt: DType) -> &'static str {
    if dt == DType::F16 {
        "f16"
    } else {
        "u32"
    }
}

/// The directive an f16 variant starts with (`enable` must precede every declaration).
pub fn enable(dt: DType) -> &'static str {
    if dt == DType::F16 {
        "enable f16;\n"
    } else {
        ""
    }
}

/// The "float family" prelude of an f32 or f16 variant: `enable f16;` when needed, then
/// `alias st_t = f32|f16;` (the element type of the family's float bindings), then
/// [`COMMON`]. The libraries compute in f32 (`f32(x)` widens, `st_t(v)` stores).
pub fn float_prelude(dt: DType) -> String {
    format!("{}alias st_t = {};\n{COMMON}", enable(dt), wgsl_type(dt))
}

/// Fails when `dtypes` include f16 and the device lacks `SHADER_F16` (Note [f16 kernels]):
/// the backend error naming `op`, dtype f16, backend wgpu and "adapter lacks SHADER_F16".
///
/// # Errors
/// That error, or `BackendUnavailable`.
pub fn require_f16(op: &'static str, dtypes: impl IntoIterator<Item = DType>) -> Result<()> {
    if dtypes.into_iter().any(|d| d == DType::F16) {
        if let Some(reason) = gpu()?.f16_unsupported() {
            return Err(crate::error::f16_unsupported(op, &reason));
        }
    }
    Ok(())
}

/// The error for a dtype WGSL kernels do not handle.
pub fn no_wgsl(op: &'static str, dt: DType) -> Error {
    Error::DTypeMismatch {
        op,
        got: vec![dt],
        reason: "the wgpu backend has no WGSL kernel for this dtype".into(),
    }
}

/// WGSL function `fn <name>(e: u32) -> T` loading element `e` of array `var` (bound as
/// `array<storage_type(dt)>`).
pub fn loader(op: &'static str, name: &str, var: &str, dt: DType) -> Result<String> {
    let body = match dt {
        DType::F32 => format!("return bitcast<f32>({var}[e]);"),
        DType::F16 => format!("return {var}[e];"),
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

    /// Appends a strided view of an elementwise kernel (offset, then strides), failing when
    /// its rank is not the output's.
    pub fn view(&mut self, op: &'static str, l: &Layout, shape: &Shape) -> Result<&mut Self> {
        if l.rank() != shape.rank() {
            return Err(Error::Internal(format!(
                "{op}: a view of rank {} for output {shape}",
                l.rank()
            )));
        }
        self.u(op, l.offset())?;
        for &st in l.strides() {
            self.i(op, st)?;
        }
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
    Ok(WgpuBuffer::downcast(inp.buffer()?, op)?.raw())
}

/// Bytes of `n` elements of `dt`.
pub fn bytes_of(n: usize, dt: DType) -> usize {
    n * dt.size_in_bytes()
}

/// An elementwise kernel: `out[i] = expr(x0, x1, ...)` over inputs already broadcast to the
/// output shape, each with its own strides.
///
/// An f16 input `k` is loaded as `h{k}: f16` and also offered widened as `x{k} = f32(h{k})`,
/// so the f32 expression tables serve f16 unchanged; an f16 output stores `f16(expr)`
/// (Note [f16 kernels]). Such a variant is "native f16"; a cast *to* f16 from another dtype is
/// not, and writes the f16 bits of a `u32` expression two per word.
pub struct Elementwise<'a> {
    /// Pipeline-cache key of the variant (op and dtypes).
    pub key: String,
    /// WGSL library of the family.
    pub lib: &'a str,
    /// Inputs (their layouts give offsets and strides).
    pub inputs: &'a [KernelInput<'a>],
    /// Output dtype.
    pub out: DType,
    /// WGSL expression over `x0`, `x1`, ... (and `h0`, ... for f16 inputs), `st_sf(j)` etc.,
    /// of type `wgsl_type(out)` (any float type for an f16 output of a native variant).
    pub expr: String,
    /// Scalar parameter words (meta slots 2..5).
    pub scalars: [u32; 4],
}

/// Whether an elementwise variant uses WGSL `f16`: an f16 input, or an f16 `fill`.
pub(crate) fn native_f16(inputs: &[DType], out: DType) -> bool {
    inputs.contains(&DType::F16) || (inputs.is_empty() && out == DType::F16)
}

/// The WGSL of an elementwise variant (what [`Elementwise::run`] compiles) for inputs of
/// dtypes `inputs`: bindings, loaders, `lib`, `value(i)` returning `expr`, and the entry point.
///
/// # Errors
/// [`no_wgsl`] for an input dtype WGSL kernels cannot load.
pub fn elementwise_wgsl(
    op: &'static str,
    lib: &str,
    inputs: &[DType],
    out: DType,
    expr: &str,
) -> Result<String> {
    let n_in = inputs.len();
    let native = native_f16(inputs, out);
    let f16_out = native && out == DType::F16;
    let mut s = String::from(if native { "enable f16;\n" } else { "" });
    s.push_str(COMMON);
    for (k, &dt) in inputs.iter().enumerate() {
        let _ = writeln!(
            s,
            "@group(0) @binding({}) var<storage, read> in{k}: array<{}>;",
            k + 1,
            storage_type(dt)
        );
        s.push_str(&loader(op, &format!("ld{k}"), &format!("in{k}"), dt)?);
    }
    let _ = writeln!(
        s,
        "@group(0) @binding({}) var<storage, read_write> out: array<{}>;",
        n_in + 1,
        if f16_out { "f16" } else { "u32" }
    );
    s.push_str(lib);
    value_fn(&mut s, inputs, out, f16_out, expr);
    s.push_str(
        "@compute @workgroup_size(256)\nfn main(@builtin(global_invocation_id) gid: vec3<u32>, \
         @builtin(num_workgroups) nwg: vec3<u32>) {\n    let t = st_tid(gid, nwg);\n    let n = st_meta[0];\n",
    );
    s.push_str(match out {
        DType::F16 if f16_out => "    if (t >= n) { return; }\n    out[t] = value(t);\n}\n",
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

/// Appends `fn value(i: u32)`: loads input `k` at `st_view_off(k, i)` as `x{k}` (and `h{k}`
/// for f16) and returns `expr`, as `f16` when `f16_out`, else as `wgsl_type(out)` (`u32`
/// bits for a non-native f16 output).
pub(crate) fn value_fn(s: &mut String, inputs: &[DType], out: DType, f16_out: bool, expr: &str) {
    let ty = match out {
        DType::F16 if !f16_out => "u32",
        dt => wgsl_type(dt),
    };
    let _ = writeln!(s, "fn value(i: u32) -> {ty} {{");
    for (k, &dt) in inputs.iter().enumerate() {
        if dt == DType::F16 {
            let _ = writeln!(
                s,
                "    let h{k} = ld{k}(st_view_off({k}u, i));\n    let x{k} = f32(h{k});"
            );
        } else {
            let _ = writeln!(s, "    let x{k} = ld{k}(st_view_off({k}u, i));");
        }
    }
    if f16_out {
        let _ = writeln!(s, "    return f16({expr});\n}}");
    } else {
        let _ = writeln!(s, "    return {expr};\n}}");
    }
}

impl Elementwise<'_> {
    /// The `meta` words before the views: numel, rank, the scalar slots, the output shape.
    pub(crate) fn meta_head(&self, op: &'static str, shape: &Shape) -> Result<Meta> {
        let mut m = Meta::default();
        m.u(op, shape.numel())?.u(op, shape.rank())?;
        for w in self.scalars {
            m.bits(w);
        }
        for &d in shape.dims() {
            m.u(op, d)?;
        }
        Ok(m)
    }

    /// Runs the kernel for `args`, returning the contiguous output.
    ///
    /// # Errors
    /// [`require_f16`]'s error for an f16 variant on a device without `SHADER_F16`; size and
    /// backend errors.
    pub fn run(&self, args: &KernelArgs<'_>) -> Result<Storage> {
        let op = args.op.name();
        let dtypes: Vec<DType> = self.inputs.iter().map(|i| i.dtype).collect();
        let native = native_f16(&dtypes, self.out);
        if native {
            require_f16(op, [DType::F16])?;
        }
        let g = gpu()?;
        let shape = args.out_shape;
        let n = shape.numel();
        let out = g.alloc(bytes_of(n, self.out));
        let mut m = self.meta_head(op, shape)?;
        let mut bufs: Vec<&wgpu::Buffer> = Vec::with_capacity(self.inputs.len() + 1);
        for inp in self.inputs {
            m.view(op, inp.layout, shape)?;
            bufs.push(raw(inp, op)?);
        }
        bufs.push(out.raw());
        let threads = match self.out {
            DType::Bool | DType::U8 => n.div_ceil(4),
            DType::F16 if native => n,
            DType::F16 | DType::BF16 => n.div_ceil(2),
            _ => n,
        } as u64;
        for &dt in &dtypes {
            loader(op, "ld", "in", dt)?;
        }
        // The dtypes were validated above, so generating the source cannot fail.
        let src =
            || elementwise_wgsl(op, self.lib, &dtypes, self.out, &self.expr).unwrap_or_default();
        g.run(&self.key, "main", &src, &m.0, &bufs, g.grid_1d(threads))?;
        Ok(Storage::new(out))
    }
}

/// Defines a family's kernel and its output-buffer form from the function building its
/// [`Elementwise`] for the call.
macro_rules! elementwise_kernels {
    ($build:ident => $kernel:ident, $into:ident) => {
        fn $kernel(
            args: &st_core::dispatch::KernelArgs<'_>,
        ) -> st_core::Result<st_core::backend::Storage> {
            $build(args)?.run(args)
        }

        fn $into(
            args: &st_core::dispatch::KernelArgs<'_>,
            out: &mut st_core::dispatch::KernelOut<'_>,
        ) -> st_core::Result<()> {
            $build(args)?.run_into(args.op.name(), args.out_shape, out)
        }
    };
}
pub(crate) use elementwise_kernels;

/// Shorthand used by the families: the process-wide device.
pub fn dev() -> Result<Arc<Gpu>> {
    gpu()
}
