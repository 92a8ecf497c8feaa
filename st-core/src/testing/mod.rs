//! The conformance kit (feature `testing`): one [`OpSpec`] per [`OpId`] — sample inputs
//! covering scalar, empty, broadcast, transposed, offset and strided cases, the f64
//! [`reference`](crate::testing::reference), per-dtype tolerances, error inputs that must return the
//! right [`Error`] variant, and gradient checks — and
//! [`conformance_suite!`](crate::conformance_suite), which turns it into one `#[test]` per
//! (op, dtype) for a backend.
//!
//! A backend's `tests/conformance.rs` is one line: `st_core::conformance_suite!(cpu, "cpu");`,
//! or `st_core::conformance_suite!(wgpu, "wgpu", GAPS);` with the backend's own
//! [`KnownGap`] table.
//! It expands to flat tests named `<op>_<dtype>_<backend>` (`exp_f32_cpu`, `exp_f16_wgpu`),
//! plus `<op>_errors_<backend>`, `<op>_grad_<backend>`, `op_coverage_<backend>`,
//! `into_forms_<backend>` (output-buffer forms and the copy fallback, [`run_into_forms`]) and
//! `fused_overrides_<backend>` (fused overrides agree with their composites).

mod custom;
mod input;
mod into;
pub mod reference;
mod run;
mod specs;
mod suite;

pub use custom::{check_custom_op, fused_ops, run_fused_agreement};
pub use input::{Domain, Gen, Input, InputLayout};
pub use into::run_into_forms;
pub use run::{
    check_sample, compare, run_coverage, run_errors, run_flag, run_forward, run_grad, Failure,
};
pub use specs::spec;

use crate::autograd::gradcheck::GradcheckOptions;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::OpId;
use crate::tensor::Tensor;
use crate::testing::reference::RefTensor;
use std::sync::Arc;

/// Runs the op under test on device tensors (one per [`Input`]), returning every output.
pub type RunFn = Arc<dyn Fn(&[Tensor]) -> Result<Vec<Tensor>> + Send + Sync>;
/// Computes the expected outputs from the inputs' exact values.
pub type RefFn = Arc<dyn Fn(&[RefTensor]) -> Result<Vec<RefTensor>> + Send + Sync>;
/// A differentiable function of the inputs, for gradient checks.
pub type GradFn = Arc<dyn Fn(&[Tensor]) -> Result<Tensor> + Send + Sync>;

/// Absolute and relative tolerance: `|got - want| <= atol + rtol·|want|`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tol {
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
}

/// The default tolerance for results of `dtype`: f64 1e-10, f32 1e-5, f16 1e-2, bf16 2e-2,
/// integers and bool exact.
pub fn tolerance(dtype: DType) -> Tol {
    let t = |atol, rtol| Tol { atol, rtol };
    match dtype {
        DType::F64 => t(1e-10, 1e-10),
        DType::F32 => t(1e-5, 1e-5),
        DType::F16 => t(1e-2, 1e-2),
        DType::BF16 => t(2e-2, 2e-2),
        DType::I32 | DType::I64 | DType::U8 | DType::Bool => t(0.0, 0.0),
    }
}

/// One forward case: inputs, the op call, its reference, and the expected output dtypes.
#[derive(Clone)]
pub struct Sample {
    /// What the case covers (`"transposed"`, `"broadcast"`, ...).
    pub name: String,
    /// Inputs with their exact values and layouts.
    pub inputs: Vec<Input>,
    /// The op call.
    pub run: RunFn,
    /// The reference, on the inputs' exact (dtype-rounded) values.
    pub reference: RefFn,
    /// Expected dtype of each output.
    pub out_dtypes: Vec<DType>,
    /// Tolerance override (default: [`tolerance`] of each output dtype).
    pub tol: Option<Tol>,
}

/// The [`Error`] variant an error input must produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrKind {
    /// [`Error::ShapeMismatch`].
    ShapeMismatch,
    /// [`Error::InvalidShape`].
    InvalidShape,
    /// [`Error::DTypeMismatch`].
    DTypeMismatch,
    /// [`Error::DimOutOfRange`].
    DimOutOfRange,
    /// [`Error::IndexOutOfRange`].
    IndexOutOfRange,
    /// [`Error::InvalidArgument`].
    InvalidArgument,
    /// [`Error::ElementCount`].
    ElementCount,
}

impl ErrKind {
    /// Whether `e` is this variant.
    pub fn matches(self, e: &Error) -> bool {
        matches!(
            (self, e),
            (ErrKind::ShapeMismatch, Error::ShapeMismatch { .. })
                | (ErrKind::InvalidShape, Error::InvalidShape { .. })
                | (ErrKind::DTypeMismatch, Error::DTypeMismatch { .. })
                | (ErrKind::DimOutOfRange, Error::DimOutOfRange { .. })
                | (ErrKind::IndexOutOfRange, Error::IndexOutOfRange { .. })
                | (ErrKind::InvalidArgument, Error::InvalidArgument { .. })
                | (ErrKind::ElementCount, Error::ElementCount { .. })
        )
    }
}

/// An input that must be rejected with a given error variant.
#[derive(Clone)]
pub struct ErrorCase {
    /// What is wrong with the input.
    pub name: String,
    /// Inputs.
    pub inputs: Vec<Input>,
    /// The op call.
    pub run: RunFn,
    /// The variant it must return.
    pub expect: ErrKind,
}

/// A gradient check: `f` of the inputs, differentiated with respect to the inputs in `wrt`
/// (floating-point inputs; they are built as f64 for finite differences on the CPU and as f32
/// when a backend's gradients are compared with the CPU's).
#[derive(Clone)]
pub struct GradCase {
    /// What the case covers.
    pub name: String,
    /// Inputs (the dtype of `wrt` inputs is replaced as described above).
    pub inputs: Vec<Input>,
    /// Indices of the inputs to differentiate.
    pub wrt: Vec<usize>,
    /// The function.
    pub f: GradFn,
    /// Finite-difference step and tolerances (CPU check).
    pub opts: GradcheckOptions,
}

/// A declared hole in one backend: no kernel for `op` at `dtypes`, with the reason (and issue
/// link). Each backend keeps its own table in its own crate and passes it to
/// [`conformance_suite!`](crate::conformance_suite), so st-core names no backend's gaps. The
/// suite asserts that the hole still exists (`KernelNotFound`), so a kernel that lands makes
/// the test fail until the declaration is removed.
#[derive(Clone, Copy, Debug)]
pub struct KnownGap {
    /// The op.
    pub op: OpId,
    /// The dtypes without a kernel.
    pub dtypes: &'static [DType],
    /// Why, with an issue link.
    pub reason: &'static str,
}

/// The gap in `gaps` covering (`op`, `dtype`), if declared.
pub fn find_gap(gaps: &[KnownGap], op: OpId, dtype: DType) -> Option<&KnownGap> {
    gaps.iter()
        .find(|g| g.op == op && g.dtypes.contains(&dtype))
}

/// Everything the conformance suite knows about one op.
#[derive(Clone, Copy)]
pub struct OpSpec {
    /// The op.
    pub op: OpId,
    /// Dtypes the op is defined on (one test each).
    pub dtypes: &'static [DType],
    /// Forward cases for a dtype.
    pub samples: fn(OpId, DType) -> Result<Vec<Sample>>,
    /// Error inputs (empty for ops that accept every input).
    pub errors: fn(OpId) -> Result<Vec<ErrorCase>>,
    /// Whether the op is differentiable (then `grads` is non-empty).
    pub grad: bool,
    /// Gradient checks.
    pub grads: fn(OpId) -> Result<Vec<GradCase>>,
}
