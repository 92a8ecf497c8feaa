//! Reductions (`shaders/reduce.wgsl`): sum, prod, max, min over any dims of a strided f32 or
//! f16 input, max/min of i32, and argmax/argmin (f32, f16, i32) producing i64 indices. Each
//! output element is one workgroup doing a shared-memory tree reduction. f16 inputs are
//! reduced in f32 and rounded to f16 once (PyTorch's half sums; Note [f16 kernels]).

use super::{dev, loader, raw, Meta, COMMON};
use st_core::backend::Storage;
use st_core::dispatch::KernelArgs;
use st_core::op::{OpId, OpParams};
use st_core::register_kernel;
use st_core::{DType, Error, Result};
use std::fmt::Write;

const LIB: &str = include_str!("../../shaders/reduce.wgsl");

/// (identity, combine expression over `a` and `x`) of a plain reduction; f16 folds in f32.
fn fold(op: OpId, dt: DType) -> Option<(&'static str, &'static str)> {
    let dt = if dt == DType::F16 { DType::F32 } else { dt };
    Some(match (op, dt) {
        (OpId::Sum, DType::F32) => ("0.0", "a + x"),
        (OpId::Prod, DType::F32) => ("1.0", "a * x"),
        (OpId::Max, DType::F32) => ("-st_inf()", "st_fmax_nan(a, x)"),
        (OpId::Min, DType::F32) => ("st_inf()", "st_fmin_nan(a, x)"),
        (OpId::Max, DType::I32) => ("bitcast<i32>(0x80000000u)", "max(a, x)"),
        (OpId::Min, DType::I32) => ("bitcast<i32>(0x7fffffffu)", "min(a, x)"),
        _ => return None,
    })
}

/// The WGSL of the (`op`, `dt`) variant.
///
/// # Errors
/// [`super::no_wgsl`] for a dtype without a kernel.
pub fn source(op: OpId, dt: DType) -> Result<String> {
    let name = op.name();
    let f16 = dt == DType::F16;
    // Accumulator type: f16 is widened to f32 on load.
    let ty = if f16 { "f32" } else { super::wgsl_type(dt) };
    let load = if f16 {
        "f32(ld0(u32(base + st_red_off(j))))"
    } else {
        "ld0(u32(base + st_red_off(j)))"
    };
    let arg = matches!(op, OpId::ArgMax | OpId::ArgMin);
    let mut s = String::from(super::enable(dt));
    s.push_str(COMMON);
    let _ = writeln!(
        s,
        "@group(0) @binding(1) var<storage, read> inp: array<{}>;",
        super::storage_type(dt)
    );
    let out_ty = if f16 && !arg { "f16" } else { "u32" };
    let _ = writeln!(
        s,
        "@group(0) @binding(2) var<storage, read_write> out: array<{out_ty}>;"
    );
    s.push_str(LIB);
    s.push_str(&loader(name, "ld0", "inp", dt)?);
    let _ = writeln!(s, "var<workgroup> sv: array<{ty}, 256>;");
    if arg {
        s.push_str("var<workgroup> si: array<u32, 256>;\n");
    }
    if !arg {
        let Some((_, comb)) = fold(op, dt) else {
            return Err(super::no_wgsl(name, dt));
        };
        let _ = writeln!(s, "fn comb(a: {ty}, x: {ty}) -> {ty} {{ return {comb}; }}");
    }
    s.push_str(
        "@compute @workgroup_size(256)\nfn main(@builtin(workgroup_id) wid: vec3<u32>, \
         @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {\n\
         \x20   let o = st_wid(wid, nwg);\n    if (o >= st_meta[0]) { return; }\n\
         \x20   let base = bitcast<i32>(st_meta[4]) + st_keep_off(o);\n    let nr = st_meta[1];\n",
    );
    if arg {
        let better = if matches!(dt, DType::F32 | DType::F16) {
            "st_arg_better_f"
        } else {
            "st_arg_better_i"
        };
        let is_max = op == OpId::ArgMax;
        let _ = write!(
            s,
            "    var a: {ty};\n    var ai = 0xffffffffu;\n\
             \x20   for (var j = lid; j < nr; j = j + 256u) {{\n\
             \x20       let x = {load};\n\
             \x20       if ({better}(a, ai, x, j, {is_max})) {{ a = x; ai = j; }}\n    }}\n\
             \x20   sv[lid] = a;\n    si[lid] = ai;\n    workgroupBarrier();\n\
             \x20   for (var h = 128u; h > 0u; h = h >> 1u) {{\n\
             \x20       if (lid < h && {better}(sv[lid], si[lid], sv[lid + h], si[lid + h], {is_max})) {{\n\
             \x20           sv[lid] = sv[lid + h];\n            si[lid] = si[lid + h];\n        }}\n\
             \x20       workgroupBarrier();\n    }}\n\
             \x20   if (lid == 0u) {{ out[2u * o] = si[0]; out[2u * o + 1u] = 0u; }}\n}}\n"
        );
    } else {
        let Some((ident, _)) = fold(op, dt) else {
            return Err(super::no_wgsl(name, dt));
        };
        let store = if f16 {
            "f16(sv[0])"
        } else {
            "bitcast<u32>(sv[0])"
        };
        let _ = write!(
            s,
            "    var a: {ty} = {ident};\n\
             \x20   for (var j = lid; j < nr; j = j + 256u) {{ a = comb(a, {load}); }}\n\
             \x20   sv[lid] = a;\n    workgroupBarrier();\n\
             \x20   for (var h = 128u; h > 0u; h = h >> 1u) {{\n\
             \x20       if (lid < h) {{ sv[lid] = comb(sv[lid], sv[lid + h]); }}\n\
             \x20       workgroupBarrier();\n    }}\n\
             \x20   if (lid == 0u) {{ out[o] = {store}; }}\n}}\n"
        );
    }
    Ok(s)
}

fn reduce(args: &KernelArgs<'_>) -> Result<Storage> {
    let op = args.op;
    let name = op.name();
    let Some(x) = args.inputs.first() else {
        return Err(Error::Internal(format!(
            "{name} kernel called without input"
        )));
    };
    let l = &x.layout;
    let dims: Vec<usize> = match args.params {
        OpParams::Reduce { dims, .. } => dims.to_vec(),
        OpParams::Arg { dim: Some(d), .. } if l.rank() > 0 => vec![*d],
        OpParams::Arg { .. } => (0..l.rank()).collect(),
        p => return Err(Error::Internal(format!("{name}: unexpected params {p:?}"))),
    };
    let arg = matches!(op, OpId::ArgMax | OpId::ArgMin);
    if !arg && fold(op, x.dtype).is_none()
        || arg && !matches!(x.dtype, DType::F32 | DType::F16 | DType::I32)
    {
        return Err(super::no_wgsl(name, x.dtype));
    }
    super::require_f16(name, [x.dtype])?;
    let keep: Vec<usize> = (0..l.rank()).filter(|d| !dims.contains(d)).collect();
    let n_out: usize = keep.iter().map(|&d| l.dims()[d]).product();
    let n_red: usize = dims.iter().map(|&d| l.dims()[d]).product();
    let mut m = Meta::default();
    m.u(name, n_out)?
        .u(name, n_red)?
        .u(name, keep.len())?
        .u(name, dims.len())?;
    m.u(name, l.offset())?;
    for &d in &keep {
        m.u(name, l.dims()[d])?;
    }
    for &d in &keep {
        m.i(name, l.strides()[d])?;
    }
    for &d in &dims {
        m.u(name, l.dims()[d])?;
    }
    for &d in &dims {
        m.i(name, l.strides()[d])?;
    }
    let g = dev()?;
    let out = g.alloc(args.out_shape.numel() * args.out_dtype.size_in_bytes());
    let key = format!("reduce/{name}/{}", x.dtype);
    let src = || source(op, x.dtype).unwrap_or_default();
    g.run(
        &key,
        "main",
        &src,
        &m.0,
        &[raw(x, name)?, out.raw()],
        g.grid_items(n_out as u64),
    )?;
    Ok(Storage::new(out))
}

register_kernel!(Sum, "wgpu", [F32, F16], reduce);
register_kernel!(Prod, "wgpu", [F32, F16], reduce);
register_kernel!(Max, "wgpu", [F32, F16, I32], reduce);
register_kernel!(Min, "wgpu", [F32, F16, I32], reduce);
register_kernel!(ArgMax, "wgpu", [F32, F16, I32], reduce);
register_kernel!(ArgMin, "wgpu", [F32, F16, I32], reduce);
