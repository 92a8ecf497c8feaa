//! Loss functions with PyTorch's formulas, defaults and reductions.

mod classification;
mod reduction;
mod regression;

pub use classification::{BceLoss, BceWithLogitsLoss, CrossEntropyLoss, NllLoss};
pub use reduction::Reduction;
pub use regression::{L1Loss, MseLoss, SmoothL1Loss};
