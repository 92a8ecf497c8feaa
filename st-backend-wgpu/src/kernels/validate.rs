//! naga validation of the WGSL every registered kernel compiles (the same front end and
//! validator wgpu runs in `create_shader_module`), without a device: f32 and integer variants
//! must validate without shader f16, and every f16 variant must validate with
//! `SHADER_FLOAT16` and be rejected without it (so it can never reach a device that lacks
//! `SHADER_F16`; Note [f16 kernels]).

use super::{binary, compare, conv, copy, index, matmul, reduce, softmax, ternary, unary};
use st_core::dispatch::registry;
use st_core::{DType, OpId, Result};
use wgpu::naga;

/// Every WGSL source the kernels of (`op`, `dt`) compile.
fn sources(op: OpId, dt: DType) -> Result<Vec<String>> {
    use OpId::*;
    Ok(match op {
        Neg | Abs | Exp | Log | Sqrt | Rsqrt | Sin | Cos | Tanh | Sigmoid | Relu | Gelu
        | GeluTanh | Silu | Erf | Floor | Ceil | Round | Sign | Reciprocal | Clamp | LogicalNot => {
            vec![unary::wgsl(op, dt)?]
        }
        Add | Sub | Mul | Div | Pow | Maximum | Minimum => vec![binary::wgsl(op, dt)?],
        Eq | Ne | Lt | Le | Gt | Ge | LogicalAnd | LogicalOr => vec![compare::wgsl(op, dt)?],
        Where | MaskedFill => vec![ternary::wgsl(op, dt)?],
        Copy | Cast | Fill => copy::wgsl(op, dt)?,
        Sum | Prod | Max | Min | ArgMax | ArgMin => vec![reduce::source(op, dt)?],
        Softmax | LogSoftmax => vec![softmax::source(dt)],
        Matmul => vec![matmul::source(dt)],
        Conv2d | Im2Col | Col2Im => vec![conv::source(dt)],
        Cat | IndexSelect | Gather | ScatterAdd => vec![index::source(dt)],
        other => {
            return Err(st_core::Error::Internal(format!(
                "{other} has a wgpu kernel but no entry in kernels/validate.rs"
            )))
        }
    })
}

/// Parses and validates `src` as wgpu would, with `caps`.
fn validate(src: &str, caps: naga::valid::Capabilities) -> std::result::Result<(), String> {
    let module = naga::front::wgsl::parse_str(src).map_err(|e| e.emit_to_string(src))?;
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps)
        .validate(&module)
        .map(drop)
        .map_err(|e| e.emit_to_string(src))
}

#[test]
fn every_registered_variant_validates() {
    let reg = registry().expect("registry builds");
    let with_f16 = naga::valid::Capabilities::SHADER_FLOAT16;
    let without = naga::valid::Capabilities::empty();
    let (mut checked, mut f16_checked) = (0, 0);
    let mut problems = Vec::new();
    for ((op, be), dtypes) in reg.coverage() {
        if be.name() != crate::error::BACKEND {
            continue;
        }
        for dt in dtypes {
            let srcs = sources(op, dt).unwrap_or_else(|e| panic!("{op} {dt}: {e}"));
            assert!(!srcs.is_empty(), "{op} {dt}: no WGSL generated");
            for src in srcs {
                checked += 1;
                let needs_f16 = src.contains("enable f16;");
                if needs_f16 != (dt == DType::F16) {
                    problems.push(format!("{op} {dt}: `enable f16;` present = {needs_f16}"));
                }
                if needs_f16 {
                    f16_checked += 1;
                    if validate(&src, without).is_ok() {
                        problems.push(format!("{op} {dt}: validates without SHADER_FLOAT16"));
                    }
                }
                let caps = if needs_f16 { with_f16 } else { without };
                if let Err(e) = validate(&src, caps) {
                    problems.push(format!("{op} {dt}:\n{e}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Every family has f16 variants (cast alone has one per target dtype).
    assert!(
        f16_checked >= 60,
        "only {f16_checked} f16 variants validated"
    );
    assert!(checked > f16_checked, "{checked} variants validated");
}
