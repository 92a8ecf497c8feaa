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
use st_core::{Device, Result};
use st_examples::digits::{default_path, Digits};
use st_examples::train::{train, Model, TrainOptions};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ModelArg {
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
    model: ModelArg,
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
    let opts = TrainOptions {
        model: match args.model {
            ModelArg::Mlp => Model::Mlp,
            ModelArg::Cnn => Model::Cnn,
        },
        device,
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        seed: args.seed,
        checkpoint_dir: Some(args.checkpoint_dir.clone()),
        progress: true,
    };
    let start = Instant::now();
    let (test, history) = train(&digits, &opts)?;
    println!(
        "test accuracy {:.2}% (loss {:.4}) after {} epochs in {:.1} s",
        100.0 * test["accuracy"],
        test["loss"],
        history.len(),
        start.elapsed().as_secs_f64()
    );
    println!(
        "checkpoints: {}",
        args.checkpoint_dir.join("best.safetensors").display()
    );
    if let Some((handle, path)) = profiler {
        handle.write_chrome_trace(&path)?;
        println!("trace: {} ({} ops recorded)", path.display(), handle.len());
    }
    Ok(())
}
