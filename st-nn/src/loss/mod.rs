//! Loss functions with PyTorch's formulas, defaults and reductions.

mod binary;
mod classification;
mod reduction;
mod regression;

pub use binary::{BceLoss, BceWithLogitsLoss};
pub use classification::{CrossEntropyLoss, NllLoss};
pub use reduction::Reduction;
pub use regression::{L1Loss, MseLoss, SmoothL1Loss};
