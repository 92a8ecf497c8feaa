//! Example plugin adding custom ops to SpiralTorch: `fused::bias_gelu` computes
//! `gelu(x + bias)` (exact, erf-based GELU) in one pass instead of two ops and an intermediate
//! tensor, and `fused::bias_gelu_grad` its gradient, which the op's backward runs
//! (`CustomOp::backward_ops`; the host sums the bias gradient over the broadcast dims).
//!
//! The same crate is used two ways: linked statically (`rlib`, `examples/custom_op.rs`, where
//! the plugin is registered on a `PluginRegistry`) and loaded as a shared library (`cdylib`,
//! through `declare_plugin!`, by the dynamic-plugin tests). Its kernels write into buffers the
//! host allocates and read them through `KernelInput::host_slice`, so both work the same and
//! a tensor the op made stays valid after the library is unloaded.
//!
//! Backends beyond the CPU add kernels to the same op: [`bias_gelu_op`] takes extra
//! registrations, which is how `examples/custom_op.rs` adds a WGPU kernel.

use st_core::dispatch::custom_op::CustomArgs;
use st_core::dispatch::{KernelCaps, KernelOut};
use st_core::plugin::{Plugin, PluginCapability, PluginContext, PluginMetadata};
use st_core::{Attrs, CustomOp, DType, Device, Element, Error, Result, Tensor};
use std::any::Any;

/// Name of the fused op.
pub const BIAS_GELU: &str = "fused::bias_gelu";
/// Name of its gradient op: inputs `(x, bias, grad_out)`, output `grad_out · gelu'(x + bias)`.
pub const BIAS_GELU_GRAD: &str = "fused::bias_gelu_grad";

const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

fn gelu(u: f64) -> f64 {
    0.5 * u * (1.0 + libm::erf(u * std::f64::consts::FRAC_1_SQRT_2))
}

fn gelu_grad(u: f64) -> f64 {
    let cdf = 0.5 * (1.0 + libm::erf(u * std::f64::consts::FRAC_1_SQRT_2));
    cdf + u * FRAC_1_SQRT_2PI * (-0.5 * u * u).exp()
}

/// The CPU kernel of both ops over contiguous inputs already broadcast to the output shape
/// (the op is registered with `KernelCaps::CONTIGUOUS`, so the dispatcher arranges that).
fn cpu_kernel<T: Element>(a: &CustomArgs<'_>, out: &mut KernelOut<'_>) -> Result<()> {
    let n = a.out_shape.numel();
    let view = |k: usize| -> Result<&[T]> {
        let inp = &a.inputs[k];
        let off = inp.layout.offset();
        inp.host_slice::<T>()?
            .get(off..off + n)
            .ok_or_else(|| Error::invalid(a.op, "input buffer shorter than its view"))
    };
    let (x, b) = (view(0)?, view(1)?);
    let g = if a.inputs.len() == 3 {
        Some(view(2)?)
    } else {
        None
    };
    let o = out.layout.offset();
    let dst = out
        .host_slice_mut::<T>()?
        .get_mut(o..o + n)
        .ok_or_else(|| Error::invalid(a.op, "output buffer shorter than its view"))?;
    match g {
        None => {
            for ((d, x), b) in dst.iter_mut().zip(x).zip(b) {
                *d = T::from_f64(gelu(x.to_f64() + b.to_f64()));
            }
        }
        Some(g) => {
            for (((d, x), b), g) in dst.iter_mut().zip(x).zip(b).zip(g) {
                *d = T::from_f64(g.to_f64() * gelu_grad(x.to_f64() + b.to_f64()));
            }
        }
    }
    Ok(())
}

/// Conformance samples: a bias over the last dim, a transposed input, two full tensors, and
/// a scalar bias.
fn samples() -> Result<Vec<(Vec<Tensor>, Attrs)>> {
    let dev = Device::cpu();
    let r = |s: &[usize]| Tensor::randn(s, DType::F64, &dev);
    Ok(vec![
        (vec![r(&[4, 3])?, r(&[3])?], Attrs::new()),
        (vec![r(&[3, 4])?.t()?, r(&[3])?], Attrs::new()),
        (vec![r(&[2, 5])?, r(&[2, 5])?], Attrs::new()),
        (vec![r(&[6])?, r(&[])?], Attrs::new()),
    ])
}

/// An elementwise op `name` of `arity` inputs with the f32 and f64 CPU kernels.
fn cpu_op(name: &str, arity: usize) -> CustomOp {
    CustomOp::new(name, arity)
        .elementwise()
        .kernel_with_caps(
            "cpu",
            &[DType::F32],
            KernelCaps::CONTIGUOUS,
            cpu_kernel::<f32>,
        )
        .kernel_with_caps(
            "cpu",
            &[DType::F64],
            KernelCaps::CONTIGUOUS,
            cpu_kernel::<f64>,
        )
}

/// `fused::bias_gelu` with its CPU kernels, reference, samples and backward.
pub fn bias_gelu_op() -> CustomOp {
    cpu_op(BIAS_GELU, 2)
        .reference(|x, _| x[0].add(&x[1])?.gelu())
        .samples(samples)
        .backward_ops(&[Some(BIAS_GELU_GRAD), Some(BIAS_GELU_GRAD)])
}

/// `fused::bias_gelu_grad` with its CPU kernels and reference.
pub fn bias_gelu_grad_op() -> CustomOp {
    cpu_op(BIAS_GELU_GRAD, 3)
        .reference(|x, _| {
            let u = x[0].add(&x[1])?;
            let cdf = u
                .mul_scalar(std::f64::consts::FRAC_1_SQRT_2)?
                .erf()?
                .add_scalar(1.0)?
                .mul_scalar(0.5)?;
            let pdf = u
                .mul(&u)?
                .mul_scalar(-0.5)?
                .exp()?
                .mul_scalar(FRAC_1_SQRT_2PI)?;
            x[2].mul(&cdf.add(&u.mul(&pdf)?)?)
        })
        .samples(|| {
            let dev = Device::cpu();
            let r = |s: &[usize]| Tensor::randn(s, DType::F64, &dev);
            Ok(vec![(
                vec![r(&[4, 3])?, r(&[3])?, r(&[4, 3])?],
                Attrs::new(),
            )])
        })
}

/// The plugin: registers both ops when it loads (they go again when it unloads).
pub struct FusedOps {
    ops: Vec<CustomOp>,
}

impl Default for FusedOps {
    /// The CPU kernels only.
    fn default() -> Self {
        FusedOps::with_ops(bias_gelu_op(), bias_gelu_grad_op())
    }
}

impl FusedOps {
    /// The plugin registering these two definitions (the CPU ones with more kernels added).
    pub fn with_ops(op: CustomOp, grad: CustomOp) -> Self {
        FusedOps {
            ops: vec![grad, op],
        }
    }
}

impl Plugin for FusedOps {
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new("fused_ops", env!("CARGO_PKG_VERSION"))
            .with_name("Fused ops")
            .with_description("A fused gelu(x + bias) custom op with its gradient")
            .with_author("SpiralTorch examples")
            .with_capability(PluginCapability::Custom("custom-ops".into()))
    }

    fn on_load(&mut self, ctx: &mut PluginContext) -> Result<()> {
        for op in &self.ops {
            ctx.register_op(op.clone())?;
        }
        Ok(())
    }

    fn on_unload(&mut self, _ctx: &mut PluginContext) -> Result<()> {
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

st_core::declare_plugin!("fused_ops", FusedOps);
