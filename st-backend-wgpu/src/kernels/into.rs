//! The output-buffer form of the elementwise kernels (`out=` and in-place ops): the
//! [`Elementwise`] shader with the output bound as a strided view of an existing buffer.
//!
//! # Note [Strided stores]
//!
//! One invocation computes one element `t` of the output and stores it at the view's element
//! offset `o = st_view_off(n_inputs, t)` (the output view follows the input views in `meta`).
//! 32-bit and 64-bit elements own whole words and are stored plainly; native `f16` elements
//! are stored into an `array<f16>`. One- and two-byte elements (bool, u8, and the f16/bf16 bits
//! a cast produces in software) share words with elements other invocations store, so the
//! output is bound as `array<atomic<u32>>` and each store clears and sets its own bits with
//! `atomicAnd` / `atomicOr`; those commute between invocations, so the bytes of neighbours
//! are never lost, whatever the view's strides. An input that *is* the output (the
//! dispatcher passes `a.add_(b)`'s `a` that way) is read from the output binding at the same
//! offset before the store, with `atomicLoad` when the binding is atomic.

use super::shader::{loader, native_f16, raw, require_f16, storage_type, value_fn};
use super::{Elementwise, COMMON};
use crate::buffer::WgpuBuffer;
use crate::device::gpu;
use st_core::dispatch::KernelOut;
use st_core::{DType, Result, Shape};
use std::fmt::Write;

/// How an output element is stored (Note [Strided stores]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Store {
    /// One `u32` word (f32, i32).
    Word,
    /// Two words, low first (i64, f64 bits).
    Pair,
    /// A native `f16` element.
    Half,
    /// `bits` (8 or 16) of a shared word, with atomics.
    Packed(u32),
}

fn store(out: DType, native: bool) -> Store {
    match out {
        DType::F32 | DType::I32 => Store::Word,
        DType::I64 | DType::F64 => Store::Pair,
        DType::F16 if native => Store::Half,
        DType::F16 | DType::BF16 => Store::Packed(16),
        DType::U8 | DType::Bool => Store::Packed(8),
    }
}

/// The WGSL of the output-buffer variant of an elementwise kernel with inputs of `inputs`
/// (`is_out[k]`: input `k` is the output buffer itself, read through the output binding).
///
/// # Errors
/// [`super::no_wgsl`] for a dtype WGSL kernels cannot load.
pub fn elementwise_into_wgsl(
    op: &'static str,
    lib: &str,
    inputs: &[DType],
    is_out: &[bool],
    out: DType,
    expr: &str,
) -> Result<String> {
    let native = native_f16(inputs, out);
    let st = store(out, native);
    let mut s = String::from(if native { "enable f16;\n" } else { "" });
    s.push_str(COMMON);
    let mut binding = 1;
    for (k, &dt) in inputs.iter().enumerate() {
        if is_out.get(k).copied().unwrap_or(false) {
            continue;
        }
        let _ = writeln!(
            s,
            "@group(0) @binding({binding}) var<storage, read> in{k}: array<{}>;",
            storage_type(dt)
        );
        s.push_str(&loader(op, &format!("ld{k}"), &format!("in{k}"), dt)?);
        binding += 1;
    }
    let out_ty = match st {
        Store::Half => "f16",
        Store::Packed(_) => "atomic<u32>",
        Store::Word | Store::Pair => "u32",
    };
    let _ = writeln!(
        s,
        "@group(0) @binding({binding}) var<storage, read_write> out: array<{out_ty}>;"
    );
    for (k, &dt) in inputs.iter().enumerate() {
        if !is_out.get(k).copied().unwrap_or(false) {
            continue;
        }
        match st {
            Store::Packed(8) => {
                let _ = writeln!(
                    s,
                    "fn ld{k}(e: u32) -> u32 {{ return (atomicLoad(&out[e >> 2u]) >> ((e & 3u) * \
                     8u)) & 0xffu; }}"
                );
            }
            // An input of the output's dtype that is f16 makes the variant native; bf16 is
            // never loaded.
            Store::Packed(_) => return Err(super::no_wgsl(op, dt)),
            _ => s.push_str(&loader(op, &format!("ld{k}"), "out", dt)?),
        }
    }
    s.push_str(lib);
    value_fn(&mut s, inputs, out, st == Store::Half, expr);
    let _ = write!(
        s,
        "@compute @workgroup_size(256)\nfn main(@builtin(global_invocation_id) gid: vec3<u32>, \
         @builtin(num_workgroups) nwg: vec3<u32>) {{\n    let t = st_tid(gid, nwg);\n    if (t \
         >= st_meta[0]) {{ return; }}\n    let o = st_view_off({}u, t);\n",
        inputs.len()
    );
    s.push_str(&match st {
        Store::Word => "    out[o] = bitcast<u32>(value(t));\n}\n".to_string(),
        Store::Pair => {
            "    let v = value(t);\n    out[2u * o] = v.x;\n    out[2u * o + 1u] = v.y;\n}\n".into()
        }
        Store::Half => "    out[o] = value(t);\n}\n".into(),
        Store::Packed(bits) => {
            let (per, mask) = if bits == 8 {
                (2, "0xffu")
            } else {
                (1, "0xffffu")
            };
            let lane = if bits == 8 { "3u" } else { "1u" };
            format!(
                // The value is computed before the store clears the element's bits: an input
                // that is the output reads them.
                "    let v = value(t) & {mask};\n    let w = o >> {per}u;\n    let sh = (o & \
                 {lane}) * {bits}u;\n    atomicAnd(&out[w], ~({mask} << sh));\n    \
                 atomicOr(&out[w], v << sh);\n}}\n"
            )
        }
    });
    Ok(s)
}

impl Elementwise<'_> {
    /// Runs the kernel into `out` (a view of shape `shape` and dtype `self.out`), allocating
    /// nothing but the dispatch's parameter words.
    ///
    /// # Errors
    /// As [`Elementwise::run`]; [`Error::Internal`] when a layout's rank is not the output's.
    pub fn run_into(&self, op: &'static str, shape: &Shape, out: &mut KernelOut<'_>) -> Result<()> {
        let dtypes: Vec<DType> = self.inputs.iter().map(|i| i.dtype).collect();
        let is_out: Vec<bool> = self.inputs.iter().map(|i| i.is_output()).collect();
        let native = native_f16(&dtypes, self.out);
        if native {
            require_f16(op, [DType::F16])?;
        }
        for &dt in &dtypes {
            loader(op, "ld", "in", dt)?;
        }
        if is_out.contains(&true) && store(self.out, native) == Store::Packed(16) {
            return Err(super::no_wgsl(op, self.out));
        }
        let n = shape.numel();
        if n == 0 {
            return Ok(());
        }
        let mut m = self.meta_head(op, shape)?;
        let mut bufs: Vec<&wgpu::Buffer> = Vec::with_capacity(self.inputs.len() + 1);
        for inp in self.inputs {
            m.view(op, inp.layout, shape)?;
            if !inp.is_output() {
                bufs.push(raw(inp, op)?);
            }
        }
        m.view(op, out.layout, shape)?;
        let ob = WgpuBuffer::downcast(&*out.buffer, op)?;
        bufs.push(ob.raw());
        let mask: String = is_out.iter().map(|&o| if o { 'o' } else { 'i' }).collect();
        let key = format!("{}/into/{mask}", self.key);
        // The dtypes were validated above, so generating the source cannot fail.
        let src = || {
            elementwise_into_wgsl(op, self.lib, &dtypes, &is_out, self.out, &self.expr)
                .unwrap_or_default()
        };
        let g = gpu()?;
        g.run(&key, "main", &src, &m.0, &bufs, g.grid_1d(n as u64))
    }
}
