//! In-place ops (`add_`, `mul_`, `copy_`, `fill_`, ...), `out=` variants and parameter updates,
//! with PyTorch's semantics: a write through a view writes the shared storage, the result is
//! cast to the written tensor's dtype when PyTorch allows it, and every write bumps the
//! storage's version (see Note [Writing into a tensor] in `dispatch/into.rs`).
//!
//! Note [In-place autograd]: under grad mode,
//! - a leaf that requires grad cannot be written in place (its `.grad` would describe values
//!   it no longer has); optimizers update parameters under [`no_grad`](crate::no_grad);
//! - the output of a view op that takes part in autograd cannot be written in place (PyTorch
//!   rebases the view's base; SpiralTorch reports it instead);
//! - any other tensor written by a differentiable op gets that op as its new history: the node
//!   reads the tensor's old history (and, when the rule needs them, a copy of its old values,
//!   taken before the write), so gradients flow through the old values as in PyTorch.
//!
//! Autograd's version check then catches every other stale read: backward through a node that
//! saved a tensor since written in place is an [`Error::Autograd`] naming the op.

use super::Tensor;
use crate::autograd::{is_grad_enabled, record_inplace};
use crate::dispatch::{copy_into, dispatch_into};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::{check_scalar, OpId, OpKind, OpParams};
use smallvec::SmallVec;

impl Tensor {
    /// Runs `op` on `(self, others...)` and writes the result into `self`, recording autograd
    /// history per Note [In-place autograd].
    fn apply_(
        &self,
        op: OpId,
        name: &'static str,
        others: &[&Tensor],
        params: &OpParams,
    ) -> Result<()> {
        let tracks = self.check_inplace_grad(name, op, others)?;
        let old = tracks.then(|| self.snapshot());
        let saved_self = match &old {
            Some(old) if crate::autograd::reads_saved(op).0 => Some(old.copy()?),
            _ => old.clone(),
        };
        let mut inputs: SmallVec<[&Tensor; 3]> = SmallVec::new();
        inputs.push(self);
        inputs.extend_from_slice(others);
        {
            let _g = crate::autograd::no_grad();
            dispatch_into(op, &inputs, params, self)?;
        }
        if let Some(first) = saved_self {
            let mut saved: SmallVec<[Tensor; 3]> = SmallVec::new();
            saved.push(first);
            saved.extend(others.iter().map(|t| (*t).clone()));
            record_inplace(op, params.clone(), saved, self);
        }
        Ok(())
    }

    /// The checks of Note [In-place autograd]; returns whether the write must be recorded.
    pub(super) fn check_inplace_grad(
        &self,
        name: &'static str,
        op: OpId,
        others: &[&Tensor],
    ) -> Result<bool> {
        if !is_grad_enabled() {
            return Ok(false);
        }
        let any_grad = self.requires_grad() || others.iter().any(|t| t.requires_grad());
        if !any_grad {
            return Ok(false);
        }
        let node = self.grad_fn();
        if self.requires_grad() && node.is_none() {
            return Err(Error::Autograd(format!(
                "{name}: a leaf tensor that requires grad ({}, shape {}) is being used in an \
                 in-place operation; update it under no_grad() or use the out-of-place op",
                self.dtype(),
                self.shape()
            )));
        }
        if let Some(n) = &node {
            if n.op().is_some_and(|o| o.def().kind == OpKind::View) {
                return Err(Error::Autograd(format!(
                    "{name}: in-place write to the output of view op {} of a tensor that \
                     requires grad is not supported; write the base tensor, or .copy() the view \
                     first",
                    n.name()
                )));
            }
        }
        if !op.def().differentiable {
            return Err(Error::Autograd(format!(
                "{name}: op {} has no gradient, so it cannot write a tensor that takes part in \
                 autograd; call it under no_grad()",
                op.name()
            )));
        }
        Ok(true)
    }

    /// A second handle of the same values and history, so a node can keep the history this
    /// tensor has now while the tensor itself gets a new one.
    pub(super) fn snapshot(&self) -> Tensor {
        let t = Tensor::with_grad_fn(
            self.0.storage.clone(),
            self.0.layout.clone(),
            self.0.dtype,
            self.0.device,
            self.grad_fn(),
        );
        t.0.requires_grad
            .store(self.requires_grad(), std::sync::atomic::Ordering::Relaxed);
        t
    }

    /// Makes `self`'s history that of `new`, an out-of-place tensor equal to the values just
    /// written into `self` (for writes whose backward is a composite of other ops).
    pub(super) fn adopt_history(&self, new: &Tensor) {
        *self.0.grad_fn.lock() = new.grad_fn();
        self.0
            .requires_grad
            .store(new.requires_grad(), std::sync::atomic::Ordering::Relaxed);
    }

    /// `other` cast to `dt` (a no-op when it has it).
    fn operand(other: &Tensor, dt: DType) -> Result<Tensor> {
        if other.dtype() == dt {
            Ok(other.clone())
        } else {
            other.to_dtype(dt)
        }
    }

    /// A binary in-place op: `self = self op other`, with `other` broadcast to `self`'s shape
    /// and the result cast to `self`'s dtype when PyTorch allows it.
    fn binary_(&self, op: OpId, name: &'static str, other: &Tensor) -> Result<()> {
        let rt = DType::result_type(
            self.dtype(),
            self.rank() == 0,
            other.dtype(),
            other.rank() == 0,
        );
        let rt = if op == OpId::Div && !rt.is_float() {
            DType::F32
        } else {
            rt
        };
        if !DType::can_cast(rt, self.dtype()) {
            return Err(Error::DTypeMismatch {
                op: name,
                got: vec![self.dtype(), other.dtype()],
                reason: format!(
                    "result type {rt} can't be cast to the desired output type {}",
                    self.dtype()
                ),
            });
        }
        let b = Tensor::operand(other, rt)?;
        if rt == self.dtype() {
            return self.apply_(op, name, &[&b], &OpParams::None);
        }
        // The op runs in the promoted dtype and the result is cast back into `self`.
        let tracks = self.check_inplace_grad(name, op, &[other])?;
        let result = self.to_dtype(rt)?.binary_out_of_place(op, &b)?;
        if tracks {
            return self.copy_(&result);
        }
        let _g = crate::autograd::no_grad();
        copy_into(&result, self)?;
        self.storage().bump_version();
        Ok(())
    }

    fn binary_out_of_place(&self, op: OpId, b: &Tensor) -> Result<Tensor> {
        crate::dispatch::dispatch(op, &[self, b], &OpParams::None)
    }
}

macro_rules! binary_inplace {
    ($($name:ident, $sname:ident => $op:ident, $doc:literal;)*) => {
        impl Tensor {$(
            #[doc = $doc]
            ///
            /// In place (PyTorch's trailing underscore): `other` broadcasts to `self`'s shape,
            /// and the result is cast to `self`'s dtype when PyTorch allows it.
            ///
            /// # Errors
            /// [`Error::ShapeMismatch`] when `other` does not broadcast to `self`;
            /// [`Error::DTypeMismatch`] when the result type cannot be stored in `self`
            /// (`i32.add_(f32)`); [`Error::InvalidArgument`] when `self` has overlapping
            /// elements (an expanded view); [`Error::Autograd`] per Note [In-place autograd].
            /// Nothing is written on error.
            pub fn $name(&self, other: &Tensor) -> Result<()> {
                self.binary_(OpId::$op, stringify!($name), other)
            }

            #[doc = $doc]
            ///
            /// In place, with a scalar operand.
            pub fn $sname(&self, other: f64) -> Result<()> {
                let s = super::binary::scalar_for(OpId::$op, self, other)?;
                self.binary_(OpId::$op, stringify!($sname), &s)
            }
        )*}
    };
}

binary_inplace! {
    add_, add_scalar_ => Add, "`self += other`.";
    sub_, sub_scalar_ => Sub, "`self -= other`.";
    mul_, mul_scalar_ => Mul, "`self *= other`.";
    div_, div_scalar_ => Div, "`self /= other` (true division).";
    pow_, pow_scalar_ => Pow, "`self = self ** other`.";
    maximum_, maximum_scalar_ => Maximum, "`self = max(self, other)`.";
    minimum_, minimum_scalar_ => Minimum, "`self = min(self, other)`.";
}

impl Tensor {
    /// Clamps `self` into `[min, max]` in place.
    ///
    /// # Errors
    /// As [`Tensor::clamp`]; [`Error::Autograd`] per Note [In-place autograd].
    pub fn clamp_(&self, min: Option<f64>, max: Option<f64>) -> Result<()> {
        self.apply_(OpId::Clamp, "clamp_", &[], &OpParams::Clamp { min, max })
    }

    /// Copies `src` into `self` (PyTorch's `copy_`): `src` broadcasts to `self`'s shape and is
    /// cast to `self`'s dtype (any cast, as PyTorch's `copy_`), and may live on another
    /// device. Gradients flow to `src`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `src` does not broadcast to `self`;
    /// [`Error::InvalidArgument`] when `self` has overlapping elements; [`Error::Autograd`]
    /// per Note [In-place autograd].
    pub fn copy_(&self, src: &Tensor) -> Result<()> {
        let src = if src.device() != self.device() {
            src.to(&self.device())?
        } else {
            src.clone()
        };
        let src = if src.shape() != self.shape() {
            src.expand(self.shape())?
        } else {
            src
        };
        let tracks = self.check_inplace_grad("copy_", OpId::Copy, &[&src])?;
        {
            let _g = crate::autograd::no_grad();
            copy_into(&src, self)?;
        }
        self.storage().bump_version();
        if tracks {
            // d(self)/d(src) is the identity (a cast); the old values get no gradient.
            let mut saved: SmallVec<[Tensor; 3]> = SmallVec::new();
            saved.push(src.clone());
            record_inplace(OpId::Cast, OpParams::Cast(self.dtype()), saved, self);
        }
        Ok(())
    }

    /// Sets every element to `value` (PyTorch's `fill_`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `value` does not fit an integer dtype or `self` has
    /// overlapping elements; [`Error::Autograd`] for a leaf that requires grad under grad mode.
    pub fn fill_(&self, value: f64) -> Result<()> {
        check_scalar("fill_", self.dtype(), value)?;
        if is_grad_enabled() && self.requires_grad() {
            let node = self.grad_fn();
            if node.is_none() {
                return Err(Error::Autograd(format!(
                    "fill_: a leaf tensor that requires grad ({}, shape {}) is being used in an \
                     in-place operation; update it under no_grad()",
                    self.dtype(),
                    self.shape()
                )));
            }
        }
        let params = OpParams::Fill {
            value,
            dtype: self.dtype(),
            shape: self.shape().clone(),
        };
        dispatch_into(OpId::Fill, &[], &params, self)?;
        if is_grad_enabled() && self.requires_grad() {
            // The values no longer depend on anything: cut the history.
            *self.0.grad_fn.lock() = None;
            self.0
                .requires_grad
                .store(false, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }

    /// Sets every element to zero (PyTorch's `zero_`).
    ///
    /// # Errors
    /// As [`Tensor::fill_`].
    pub fn zero_(&self) -> Result<()> {
        self.fill_(0.0)
    }

    /// Writes `value` where `mask` (bool, broadcastable to `self`) is true (PyTorch's
    /// `masked_fill_`).
    ///
    /// # Errors
    /// As [`Tensor::masked_fill`]; [`Error::Autograd`] per Note [In-place autograd].
    pub fn masked_fill_(&self, mask: &Tensor, value: f64) -> Result<()> {
        self.apply_(
            OpId::MaskedFill,
            "masked_fill_",
            &[mask],
            &OpParams::Scalar(value),
        )
    }

    /// Replaces the values of `self` with those of `src` (same shape; cast to `self`'s dtype,
    /// moved to `self`'s device), keeping `self`'s identity, `requires_grad` and gradient:
    /// PyTorch's `p.data = src` for parameters, allowed on leaves that require grad and never
    /// recorded by autograd. The storage's version is bumped, so backward through a graph that
    /// saved the old values is an error instead of a wrong gradient.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the shapes differ; [`Error::InvalidArgument`] when `self`
    /// has overlapping elements.
    pub fn set_data(&self, src: &Tensor) -> Result<()> {
        if src.shape() != self.shape() {
            return Err(Error::ShapeMismatch {
                op: "set_data",
                lhs: Box::new(self.shape().clone()),
                rhs: Box::new(src.shape().clone()),
                detail: ": the new data must have the tensor's shape".into(),
            });
        }
        let src = if src.device() != self.device() {
            src.to(&self.device())?
        } else {
            src.clone()
        };
        let _g = crate::autograd::no_grad();
        copy_into(&src.detach(), self)?;
        self.storage().bump_version();
        Ok(())
    }

    /// Cuts `self` from the graph in place: it becomes a leaf that does not require grad
    /// (PyTorch's `detach_`).
    ///
    /// # Errors
    /// [`Error::Autograd`] for the output of a view op that takes part in autograd, as PyTorch.
    pub fn detach_(&self) -> Result<()> {
        if let Some(n) = self.grad_fn() {
            if n.op().is_some_and(|o| o.def().kind == OpKind::View) {
                return Err(Error::Autograd(format!(
                    "detach_: cannot detach the output of view op {} in place; use detach()",
                    n.name()
                )));
            }
        }
        *self.0.grad_fn.lock() = None;
        self.0
            .requires_grad
            .store(false, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// `self += alpha * other` (PyTorch's `add_(other, alpha=..)`). The product `alpha * other`
    /// is a temporary, as in PyTorch's unfused path; the write into `self` allocates nothing.
    ///
    /// # Errors
    /// As [`Tensor::add_`].
    pub fn add_scaled_(&self, other: &Tensor, alpha: f64) -> Result<()> {
        if alpha == 1.0 {
            return self.add_(other);
        }
        let scaled = other.mul_scalar(alpha)?;
        self.add_(&scaled)
    }
}
