//! Optimizers with PyTorch's update rules and defaults, parameter groups, and gradient
//! clipping.
//!
//! Every update runs in place under `no_grad` with tensor ops, so it works on every backend;
//! hyper-parameters live in cached 0-d tensors refilled only when they change, and scratch
//! buffers are made on the first step, so a warm step allocates nothing on the CPU.

mod adagrad;
mod adam;
mod clip;
mod optimizer;
mod rmsprop;
mod scalars;
mod sgd;

pub use adagrad::{Adagrad, AdagradConfig};
pub use adam::{Adam, AdamConfig, AdamW};
pub use clip::{clip_grad_norm_, clip_grad_value_};
pub use optimizer::{GroupState, Optimizer, OptimizerState, ParamGroup};
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use sgd::{Sgd, SgdConfig};
