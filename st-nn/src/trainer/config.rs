//! The trainer's options and metrics.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Metrics by name: `loss`, `accuracy`, `val_loss`, `val_accuracy`, `samples_per_sec`, `lr`.
pub type Metrics = BTreeMap<String, f64>;

/// Which metric early stopping and the best checkpoint follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Monitor {
    /// Validation loss (lower is better); the training loss without a validation set.
    ValLoss,
    /// Validation accuracy (higher is better); the training accuracy without one.
    ValAccuracy,
}

impl Monitor {
    /// The metric's name in a validated epoch and in a training-only one.
    pub(crate) fn keys(self) -> (&'static str, &'static str) {
        match self {
            Monitor::ValLoss => ("val_loss", "loss"),
            Monitor::ValAccuracy => ("val_accuracy", "accuracy"),
        }
    }

    /// Whether `new` improves on `best` by more than `min_delta`.
    pub(crate) fn improves(self, new: f64, best: f64, min_delta: f64) -> bool {
        match self {
            Monitor::ValLoss => new < best - min_delta,
            Monitor::ValAccuracy => new > best + min_delta,
        }
    }
}

/// Stop when the monitored metric has not improved for `patience` epochs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EarlyStopping {
    /// Epochs without improvement before stopping.
    pub patience: usize,
    /// Smallest change that counts as an improvement.
    pub min_delta: f64,
}

/// A [`Trainer`](super::Trainer)'s options.
#[derive(Clone, Debug)]
pub struct TrainerConfig {
    /// Epochs to train (the total, counting epochs done before a resume).
    pub epochs: usize,
    /// The metric for early stopping and the best checkpoint.
    pub monitor: Monitor,
    /// Early stopping, when set.
    pub early_stopping: Option<EarlyStopping>,
    /// Directory for checkpoints (`epoch-N.safetensors`, `best.safetensors`); none when unset.
    pub checkpoint_dir: Option<PathBuf>,
    /// Write `epoch-N.safetensors` every this many epochs (0: only the best).
    pub checkpoint_every: usize,
    /// Clip the gradients' joint 2-norm to this before each step.
    pub clip_grad_norm: Option<f64>,
    /// Step the LR scheduler after every batch (OneCycleLR) instead of every epoch.
    pub schedule_per_batch: bool,
    /// Show a progress bar (on a terminal) and print a line per epoch.
    pub progress: bool,
}

impl Default for TrainerConfig {
    fn default() -> Self {
        TrainerConfig {
            epochs: 1,
            monitor: Monitor::ValLoss,
            early_stopping: None,
            checkpoint_dir: None,
            checkpoint_every: 0,
            clip_grad_norm: None,
            schedule_per_batch: false,
            progress: true,
        }
    }
}
