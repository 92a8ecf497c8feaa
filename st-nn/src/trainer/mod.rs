//! The [`Trainer`]: `fit` and `evaluate` loops with metrics, events on the plugin bus, a
//! progress bar, early stopping, checkpoints and resuming.

mod checkpoints;
mod config;
mod fit;
mod progress;

pub use config::{EarlyStopping, Metrics, Monitor, TrainerConfig};
pub use fit::{LossFn, Trainer};
