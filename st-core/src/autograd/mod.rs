//! Reverse-mode automatic differentiation over the primitive ops. Backward rules are written
//! with tensor ops, so every backend that has the forward kernels gets gradients.

mod engine;
mod grad_mode;
pub mod gradcheck;
mod rules;
pub(crate) use rules::reads_saved;

pub use engine::{backward, Node};
pub(crate) use engine::{record, record_inplace, record_transfer};
pub use grad_mode::{is_grad_enabled, no_grad, NoGradGuard};
