//! [`Trainer::fit`] and [`Trainer::evaluate`].

use super::config::{Metrics, TrainerConfig};
use super::progress::Progress;
use crate::data::{DataLoader, Dataset};
use crate::module::Module;
use crate::optim::{clip_grad_norm_, Optimizer};
use crate::schedule::LrScheduler;
use st_core::events::{global_event_bus, PluginEvent};
use st_core::{no_grad, DType, Device, Error, Result, Tensor};
use std::time::Instant;

/// A loss of (model output, target).
pub type LossFn<'a> = Box<dyn Fn(&Tensor, &Tensor) -> Result<Tensor> + 'a>;

/// Trains a model: owns its optimizer, scheduler and loss, and the loop state that a
/// checkpoint saves (epoch, best metric, history).
///
/// Batches are `[input, target]` from a [`DataLoader`]; they are moved to the model's device.
/// Each epoch publishes [`PluginEvent::EpochStart`], a [`PluginEvent::BatchEnd`] per step and
/// [`PluginEvent::EpochEnd`] with the epoch's metrics on the global event bus, where telemetry
/// plugins (the profiler's Chrome trace) receive them.
pub struct Trainer<'a> {
    pub(crate) model: &'a dyn Module,
    pub(crate) optimizer: Box<dyn Optimizer + 'a>,
    pub(crate) scheduler: Option<LrScheduler>,
    loss: LossFn<'a>,
    pub(crate) cfg: TrainerConfig,
    pub(crate) epoch: usize,
    pub(crate) best: Option<f64>,
    pub(crate) stale: usize,
    pub(crate) history: Vec<Metrics>,
}

/// Sums of one pass over a loader.
#[derive(Default)]
struct Tally {
    loss_sum: f64,
    samples: usize,
    correct: Option<i64>,
}

impl Tally {
    fn add(&mut self, out: &Tensor, y: &Tensor, loss: f64) -> Result<()> {
        let n = out.dims().first().copied().unwrap_or(1);
        self.loss_sum += loss * n as f64;
        self.samples += n;
        if out.rank() == 2 && y.rank() == 1 && y.dtype().is_int() {
            // Compared on the CPU: a GPU backend may lack i64 comparisons (WGSL has no i64),
            // and the class indices are N integers.
            let cpu = Device::cpu();
            let hits = out
                .argmax(Some(1), false)?
                .to(&cpu)?
                .eq(&y.to(&cpu)?.to_dtype(DType::I64)?)?
                .sum_all()?
                .to_scalar::<i64>()?;
            self.correct = Some(self.correct.unwrap_or(0) + hits);
        }
        Ok(())
    }

    fn loss(&self) -> f64 {
        self.loss_sum / self.samples.max(1) as f64
    }

    fn accuracy(&self) -> Option<f64> {
        self.correct.map(|c| c as f64 / self.samples.max(1) as f64)
    }
}

fn split_batch(batch: Vec<Tensor>, device: &Device) -> Result<(Tensor, Tensor)> {
    match <[Tensor; 2]>::try_from(batch) {
        Ok([x, y]) => Ok((x.to(device)?, y.to(device)?)),
        Err(b) => Err(Error::invalid(
            "Trainer",
            format!("batches must be [input, target], got {} tensors", b.len()),
        )),
    }
}

fn scalar(t: &Tensor) -> Result<f64> {
    t.to_dtype(DType::F64)?.to_scalar::<f64>()
}

impl<'a> Trainer<'a> {
    /// A trainer of `model` with `optimizer` (built over `model.parameters()`) and `loss`.
    pub fn new(
        model: &'a dyn Module,
        optimizer: impl Optimizer + 'a,
        loss: impl Fn(&Tensor, &Tensor) -> Result<Tensor> + 'a,
        cfg: TrainerConfig,
    ) -> Trainer<'a> {
        Trainer {
            model,
            optimizer: Box::new(optimizer),
            scheduler: None,
            loss: Box::new(loss),
            cfg,
            epoch: 0,
            best: None,
            stale: 0,
            history: Vec::new(),
        }
    }

    /// Adds a learning-rate scheduler (made over [`optimizer_mut`](Trainer::optimizer_mut)).
    pub fn with_scheduler(mut self, scheduler: LrScheduler) -> Self {
        self.scheduler = Some(scheduler);
        self
    }

    /// The optimizer.
    pub fn optimizer_mut(&mut self) -> &mut dyn Optimizer {
        &mut *self.optimizer
    }

    /// The next epoch to train (0 before the first; after a resume, the saved epoch).
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// Each finished epoch's metrics.
    pub fn history(&self) -> &[Metrics] {
        &self.history
    }

    /// The options.
    pub fn config(&self) -> &TrainerConfig {
        &self.cfg
    }

    fn device(&self) -> Device {
        self.model
            .parameters()
            .first()
            .map_or_else(Device::cpu, Tensor::device)
    }

    /// Trains from [`epoch`](Trainer::epoch) up to `cfg.epochs`, validating on `val` after
    /// each epoch, writing checkpoints and stopping early as configured. Returns the metrics
    /// of the epochs it ran.
    ///
    /// # Errors
    /// Errors of the model, loss, optimizer and loader; [`Error::Io`] writing checkpoints.
    pub fn fit<D: Dataset, V: Dataset>(
        &mut self,
        train: &mut DataLoader<D>,
        mut val: Option<&mut DataLoader<V>>,
    ) -> Result<Vec<Metrics>> {
        let device = self.device();
        let bus = global_event_bus();
        let mut ran = Vec::new();
        while self.epoch < self.cfg.epochs {
            let epoch = self.epoch;
            bus.publish(&PluginEvent::EpochStart { epoch });
            train.set_epoch(epoch as u64);
            self.model.train();
            let progress = Progress::new(self.cfg.progress, epoch, self.cfg.epochs, train.len());
            let start = Instant::now();
            let mut tally = Tally::default();
            for (b, batch) in train.iter().enumerate() {
                let (x, y) = split_batch(batch?, &device)?;
                self.optimizer.zero_grad();
                let out = self.model.forward(&x)?;
                let loss = (self.loss)(&out, &y)?;
                loss.backward()?;
                if let Some(max) = self.cfg.clip_grad_norm {
                    clip_grad_norm_(&self.model.parameters(), max, 2.0, false)?;
                }
                self.optimizer.step()?;
                if self.cfg.schedule_per_batch {
                    if let Some(s) = &mut self.scheduler {
                        s.step(&mut *self.optimizer);
                    }
                }
                let lv = scalar(&loss)?;
                {
                    let _g = no_grad();
                    tally.add(&out.detach(), &y, lv)?;
                }
                let rate = tally.samples as f64 / start.elapsed().as_secs_f64().max(1e-9);
                progress.update(lv, tally.accuracy().unwrap_or(0.0), rate);
                bus.publish(&PluginEvent::BatchEnd {
                    epoch,
                    batch: b,
                    metrics: Metrics::from([("loss".to_string(), lv)]),
                });
            }
            let secs = start.elapsed().as_secs_f64();
            let mut m = Metrics::new();
            m.insert("loss".into(), tally.loss());
            if let Some(a) = tally.accuracy() {
                m.insert("accuracy".into(), a);
            }
            m.insert(
                "samples_per_sec".into(),
                tally.samples as f64 / secs.max(1e-9),
            );
            m.insert(
                "lr".into(),
                self.optimizer.param_groups().first().map_or(0.0, |g| g.lr),
            );
            if let Some(v) = val.as_deref_mut() {
                let e = self.evaluate(v)?;
                m.insert("val_loss".into(), e["loss"]);
                if let Some(a) = e.get("accuracy") {
                    m.insert("val_accuracy".into(), *a);
                }
            }
            if !self.cfg.schedule_per_batch {
                if let Some(s) = &mut self.scheduler {
                    s.step(&mut *self.optimizer);
                }
            }
            progress.finish(&summary(epoch, self.cfg.epochs, &m));
            bus.publish(&PluginEvent::EpochEnd {
                epoch,
                metrics: m.clone(),
            });
            self.epoch += 1;
            self.history.push(m.clone());
            let improved = self.track_best(&m);
            self.write_checkpoints(epoch, improved)?;
            ran.push(m);
            if let Some(es) = self.cfg.early_stopping {
                if self.stale >= es.patience {
                    if self.cfg.progress {
                        println!("early stopping: no improvement in {} epochs", es.patience);
                    }
                    break;
                }
            }
        }
        Ok(ran)
    }

    /// Updates the best metric and the count of epochs without improvement; true when
    /// this epoch is the new best.
    fn track_best(&mut self, m: &Metrics) -> bool {
        let (with_val, without) = self.cfg.monitor.keys();
        let Some(&v) = m.get(with_val).or_else(|| m.get(without)) else {
            return false;
        };
        let delta = self.cfg.early_stopping.map_or(0.0, |e| e.min_delta);
        let better = match self.best {
            None => true,
            Some(b) => self.cfg.monitor.improves(v, b, delta),
        };
        if better {
            self.best = Some(v);
            self.stale = 0;
        } else {
            self.stale += 1;
        }
        better
    }

    /// Loss and accuracy of the model on `loader`, in evaluation mode under `no_grad`
    /// (the model's mode is restored afterwards).
    ///
    /// # Errors
    /// Errors of the model, the loss and the loader.
    pub fn evaluate<D: Dataset>(&self, loader: &mut DataLoader<D>) -> Result<Metrics> {
        let device = self.device();
        let was_training = self.model.is_training();
        self.model.eval();
        let result = (|| {
            let _g = no_grad();
            let mut tally = Tally::default();
            for batch in loader.iter() {
                let (x, y) = split_batch(batch?, &device)?;
                let out = self.model.forward(&x)?;
                let lv = scalar(&(self.loss)(&out, &y)?)?;
                tally.add(&out, &y, lv)?;
            }
            let mut m = Metrics::from([("loss".to_string(), tally.loss())]);
            if let Some(a) = tally.accuracy() {
                m.insert("accuracy".into(), a);
            }
            Ok(m)
        })();
        self.model.set_training(was_training);
        result
    }
}

fn summary(epoch: usize, epochs: usize, m: &Metrics) -> String {
    let mut s = format!("epoch {:>3}/{epochs}  loss {:.4}", epoch + 1, m["loss"]);
    if let Some(a) = m.get("accuracy") {
        s += &format!("  acc {:6.2}%", 100.0 * a);
    }
    if let Some(v) = m.get("val_loss") {
        s += &format!("  val_loss {v:.4}");
    }
    if let Some(a) = m.get("val_accuracy") {
        s += &format!("  val_acc {:6.2}%", 100.0 * a);
    }
    s + &format!("  {:.0} samples/s", m["samples_per_sec"])
}
