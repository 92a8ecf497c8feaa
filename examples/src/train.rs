//! The digits training run behind `examples/train_digits.rs`, as a function that tests call.

use crate::digits::Digits;
use st_core::{manual_seed, DType, Device, Result};
use st_nn::data::{DataLoader, DataLoaderConfig};
use st_nn::layers::{Conv2d, Conv2dConfig, Flatten, Linear, MaxPool2d, Relu};
use st_nn::loss::CrossEntropyLoss;
use st_nn::optim::{Adam, AdamConfig};
use st_nn::schedule::{CosineAnnealingLr, LrScheduler};
use st_nn::trainer::{Metrics, Monitor, Trainer, TrainerConfig};
use st_nn::{Module, Sequential};
use std::path::PathBuf;

/// Which network to train.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// 64 → 128 → 10 with ReLU.
    Mlp,
    /// Two 3×3 convolutions (16 and 32 channels) with max pooling, then a linear classifier.
    Cnn,
}

/// Options of a training run.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// The network.
    pub model: Model,
    /// Where to train.
    pub device: Device,
    /// Epochs.
    pub epochs: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Adam's learning rate, annealed to 0 with a cosine schedule.
    pub lr: f64,
    /// Seed of the weights, the split and the shuffle.
    pub seed: u64,
    /// Checkpoint directory (`best.safetensors`, `epoch-N.safetensors` every 10 epochs).
    pub checkpoint_dir: Option<PathBuf>,
    /// Progress bar and per-epoch lines.
    pub progress: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            model: Model::Mlp,
            device: Device::cpu(),
            epochs: 40,
            batch_size: 32,
            lr: 3e-3,
            seed: 0,
            checkpoint_dir: None,
            progress: true,
        }
    }
}

/// The network `kind`, initialised from st-core's default generator, on `device`.
///
/// # Errors
/// Allocation and device errors.
pub fn model(kind: Model, device: &Device) -> Result<Sequential> {
    let mut m = match kind {
        Model::Mlp => Sequential::new()
            .push(Linear::new(64, 128)?)
            .push(Relu)
            .push(Linear::new(128, 10)?),
        Model::Cnn => {
            let same = Conv2dConfig {
                padding: [1, 1],
                ..Default::default()
            };
            let conv = |i, o| Conv2d::build(i, o, [3, 3], same, DType::F32, &Device::cpu());
            Sequential::new()
                .push(conv(1, 16)?)
                .push(Relu)
                .push(MaxPool2d::new(2))
                .push(conv(16, 32)?)
                .push(Relu)
                .push(MaxPool2d::new(2))
                .push(Flatten::default())
                .push(Linear::new(32 * 2 * 2, 10)?)
        }
    };
    m.to(device)?;
    Ok(m)
}

/// Trains on an 80/20 split of `digits` and returns the final test metrics (`loss`,
/// `accuracy`) and every epoch's metrics.
///
/// # Errors
/// Errors of the model, the optimizer and the checkpoint writes.
pub fn train(digits: &Digits, o: &TrainOptions) -> Result<(Metrics, Vec<Metrics>)> {
    let (train, test) = digits.split(0.2, o.seed, o.model == Model::Cnn, &Device::cpu())?;
    if o.progress {
        println!(
            "digits: {} train / {} test images, {:?} on {}",
            train.tensors()[0].dims()[0],
            test.tensors()[0].dims()[0],
            o.model,
            o.device
        );
    }
    manual_seed(o.seed);
    let net = model(o.model, &o.device)?;
    if o.progress {
        println!("model: {} parameters", net.num_parameters());
    }
    let loader = |ds, shuffle| {
        DataLoader::new(
            ds,
            DataLoaderConfig {
                batch_size: o.batch_size,
                shuffle,
                seed: o.seed,
                ..Default::default()
            },
        )
    };
    let (mut train_loader, mut test_loader) = (loader(train, true)?, loader(test, false)?);
    let mut opt = Adam::new(
        net.parameters(),
        AdamConfig {
            lr: o.lr,
            ..Default::default()
        },
    )?;
    let schedule = CosineAnnealingLr {
        t_max: o.epochs,
        eta_min: 0.0,
    };
    let scheduler = LrScheduler::new(&mut opt, schedule)?;
    let loss = CrossEntropyLoss::default();
    let mut trainer = Trainer::new(
        &net,
        opt,
        move |out, y| loss.forward(out, y),
        TrainerConfig {
            epochs: o.epochs,
            monitor: Monitor::ValAccuracy,
            checkpoint_dir: o.checkpoint_dir.clone(),
            checkpoint_every: 10,
            progress: o.progress,
            ..Default::default()
        },
    )
    .with_scheduler(scheduler);
    let history = trainer.fit(&mut train_loader, Some(&mut test_loader))?;
    Ok((trainer.evaluate(&mut test_loader)?, history))
}
