//! Reverse-mode automatic differentiation over the primitive ops. Backward rules are written
//! with tensor ops, so every backend that has the forward kernels gets gradients, and the
//! backward pass can itself be recorded for higher derivatives.

mod backward;
mod custom;
mod engine;
mod grad_mode;
pub mod gradcheck;
mod hooks;
mod pass;
mod rules;
pub(crate) use rules::{reads_saved, sum_to_shape};

pub use backward::{backward, backward_opts, grad, BackwardOptions, GradOptions};
pub use engine::Node;
pub(crate) use engine::{record, record_inplace, record_rule, record_transfer, Rule};
pub use grad_mode::{is_grad_enabled, no_grad, NoGradGuard};
pub use hooks::HookHandle;
pub(crate) use hooks::HookList;
