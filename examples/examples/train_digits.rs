//! Trains a classifier on the UCI handwritten digits shipped in `examples/data/` and reports
//! its test accuracy: the README's first command.
//!
//! ```sh
//! cargo run --release -p st-examples --example train_digits                 # MLP on the CPU
//! cargo run --release -p st-examples --example train_digits -- --model cnn  # a small CNN
//! cargo run --release -p st-examples --example train_digits -- --device wgpu --trace trace.json
//! ```

use clap::{Parser, ValueEnum};
use st_core::plugin::telemetry::OpProfiler;
use st_core::plugin::{global_registry, init_plugin_system};
use st_core::{manual_seed, Device, Result};
use st_examples::digits::{default_path, Digits};
use st_nn::data::{DataLoader, DataLoaderConfig};
use st_nn::layers::{Conv2d, Conv2dConfig, Flatten, Linear, MaxPool2d, Relu};
use st_nn::loss::CrossEntropyLoss;
use st_nn::optim::{Adam, AdamConfig};
use st_nn::schedule::{CosineAnnealingLr, LrScheduler};
use st_nn::trainer::{Monitor, Trainer, TrainerConfig};
use st_nn::{Module, Sequential};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Model {
    /// 64 → 128 → 10 with ReLU.
    Mlp,
    /// Two 3×3 convolutions with max pooling, then a linear classifier.
    Cnn,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Backend {
    Cpu,
    Wgpu,
}

/// Train an MLP or a small CNN on the 8×8 handwritten digits.
#[derive(Parser, Debug)]
struct Args {
    /// Model to train.
    #[arg(long, value_enum, default_value = "mlp")]
    model: Model,
    /// Device to train on.
    #[arg(long, value_enum, default_value = "cpu")]
    device: Backend,
    /// Epochs.
    #[arg(long, default_value_t = 40)]
    epochs: usize,
    /// Batch size.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Adam's learning rate (annealed with a cosine schedule).
    #[arg(long, default_value_t = 3e-3)]
    lr: f64,
    /// Seed of the weights, the split and the shuffle.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where checkpoints go (`best.safetensors`, `epoch-N.safetensors`).
    #[arg(long, default_value = "checkpoints/digits")]
    checkpoint_dir: PathBuf,
    /// Write a Chrome trace (ops and epochs) to this file.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Data file (the repository's copy by default).
    #[arg(long)]
    data: Option<PathBuf>,
}

fn model(kind: Model, device: &Device) -> Result<Sequential> {
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
            let conv =
                |i, o| Conv2d::build(i, o, [3, 3], same, st_core::DType::F32, &Device::cpu());
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

fn main() -> Result<()> {
    let args = Args::parse();
    let device = match args.device {
        Backend::Cpu => Device::cpu(),
        Backend::Wgpu => st_backend_wgpu::device(0)?,
    };
    let profiler = match &args.trace {
        Some(path) => {
            init_plugin_system()?;
            let p = OpProfiler::new();
            let handle = p.handle();
            global_registry().register(Box::new(p))?;
            global_registry().initialize_all()?;
            Some((handle, path.clone()))
        }
        None => None,
    };

    let digits = Digits::load(&args.data.clone().unwrap_or_else(default_path))?;
    let images = matches!(args.model, Model::Cnn);
    let (train, test) = digits.split(0.2, args.seed, images, &Device::cpu())?;
    println!(
        "digits: {} train / {} test images, {:?} on {device}",
        train.tensors()[0].dims()[0],
        test.tensors()[0].dims()[0],
        args.model
    );
    manual_seed(args.seed);
    let net = model(args.model, &device)?;
    println!("model: {} parameters", net.num_parameters());

    let loader = |ds, shuffle| {
        DataLoader::new(
            ds,
            DataLoaderConfig {
                batch_size: args.batch_size,
                shuffle,
                seed: args.seed,
                ..Default::default()
            },
        )
    };
    let (mut train_loader, mut test_loader) = (loader(train, true)?, loader(test, false)?);
    let mut opt = Adam::new(
        net.parameters(),
        AdamConfig {
            lr: args.lr,
            ..Default::default()
        },
    )?;
    let schedule = CosineAnnealingLr {
        t_max: args.epochs,
        eta_min: 0.0,
    };
    let scheduler = LrScheduler::new(&mut opt, schedule)?;
    let loss = CrossEntropyLoss::default();
    let mut trainer = Trainer::new(
        &net,
        opt,
        move |out, y| loss.forward(out, y),
        TrainerConfig {
            epochs: args.epochs,
            monitor: Monitor::ValAccuracy,
            checkpoint_dir: Some(args.checkpoint_dir.clone()),
            checkpoint_every: 10,
            ..Default::default()
        },
    )
    .with_scheduler(scheduler);

    let start = Instant::now();
    trainer.fit(&mut train_loader, Some(&mut test_loader))?;
    let secs = start.elapsed().as_secs_f64();
    let last = trainer.evaluate(&mut test_loader)?;
    println!(
        "test accuracy {:.2}% (loss {:.4}) after {} epochs in {secs:.1} s",
        100.0 * last["accuracy"],
        last["loss"],
        trainer.epoch()
    );
    let best = args.checkpoint_dir.join("best.safetensors");
    println!("best checkpoint: {}", best.display());

    if let Some((handle, path)) = profiler {
        handle.write_chrome_trace(&path)?;
        println!("trace: {} ({} ops recorded)", path.display(), handle.len());
    }
    Ok(())
}
