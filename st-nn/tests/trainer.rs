//! Integration tests of the `Trainer` on three gaussian blobs in 2-d: learning, metrics and
//! validation, events on the global bus, exact resuming from a checkpoint, early stopping,
//! the checkpoint directory, failed resumes that change nothing, and `evaluate` restoring the
//! model's mode.
//!
//! Every test holds `SERIAL`: `manual_seed` reseeds one process-wide generator and the event
//! test counts events on the global bus, so the tests of this file train one at a time.

use st_core::events::{global_event_bus, PluginEvent};
use st_core::{DType, Device, Error, Generator, Result, Tensor};
use st_nn::data::{DataLoader, DataLoaderConfig, TensorDataset};
use st_nn::layers::{Dropout, Linear, Relu};
use st_nn::loss::CrossEntropyLoss;
use st_nn::optim::{Adam, AdamConfig, Sgd, SgdConfig};
use st_nn::schedule::{LrScheduler, StepLr};
use st_nn::trainer::{EarlyStopping, Metrics, Monitor, Trainer, TrainerConfig};
use st_nn::{Module, Sequential};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// `n` points of three blobs centred at (0, 3), (3, -2) and (-3, -2) with σ = 0.6; label
/// `i % 3`.
fn blobs(n: usize, seed: u64) -> TensorDataset {
    let cpu = Device::cpu();
    let mut g = Generator::new(seed);
    let noise = Tensor::randn_with(&mut g, [n, 2], DType::F32, &cpu)
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
    let centres = [[0.0f32, 3.0], [3.0, -2.0], [-3.0, -2.0]];
    let x: Vec<f32> = (0..n * 2)
        .map(|k| centres[(k / 2) % 3][k % 2] + 0.6 * noise[k])
        .collect();
    let y: Vec<i64> = (0..n as i64).map(|i| i % 3).collect();
    TensorDataset::new(vec![
        Tensor::from_vec(x, [n, 2], &cpu).unwrap(),
        Tensor::from_vec(y, [n], &cpu).unwrap(),
    ])
    .unwrap()
}

fn train_loader(seed: u64) -> DataLoader<TensorDataset> {
    DataLoader::new(
        blobs(300, 1),
        DataLoaderConfig {
            batch_size: 32,
            shuffle: true,
            seed,
            ..Default::default()
        },
    )
    .unwrap()
}

fn val_loader() -> DataLoader<TensorDataset> {
    DataLoader::new(
        blobs(150, 2),
        DataLoaderConfig {
            batch_size: 64,
            ..Default::default()
        },
    )
    .unwrap()
}

/// Linear(2, hidden) → ReLU → Linear(hidden, 3), initialised from `seed`.
fn mlp(seed: u64, hidden: usize) -> Sequential {
    st_core::manual_seed(seed);
    Sequential::new()
        .push(Linear::new(2, hidden).unwrap())
        .push(Relu)
        .push(Linear::new(hidden, 3).unwrap())
}

fn ce(out: &Tensor, y: &Tensor) -> Result<Tensor> {
    CrossEntropyLoss::default().forward(out, y)
}

fn quiet(epochs: usize) -> TrainerConfig {
    TrainerConfig {
        epochs,
        progress: false,
        ..Default::default()
    }
}

fn adam(m: &dyn Module, lr: f64) -> Adam {
    Adam::new(
        m.parameters(),
        AdamConfig {
            lr,
            ..Default::default()
        },
    )
    .unwrap()
}

/// Every tensor of `m` as (name, bytes).
fn snapshot(m: &dyn Module) -> Vec<(String, Vec<u8>)> {
    m.state_dict()
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_bytes().unwrap()))
        .collect()
}

fn temp(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!(
        "st-nn-trainer-{tag}-{}-{nanos}",
        std::process::id()
    ))
}

/// The history without `samples_per_sec`, which is a timing.
fn deterministic(h: &[Metrics]) -> Vec<Metrics> {
    h.iter()
        .map(|m| {
            let mut m = m.clone();
            m.remove("samples_per_sec");
            m
        })
        .collect()
}

#[test]
fn fit_learns_three_blobs_with_validation() {
    let _s = serial();
    let model = mlp(10, 16);
    let opt = adam(&model, 0.05);
    let mut t = Trainer::new(&model, opt, ce, quiet(5));
    let (mut tr, mut va) = (train_loader(0), val_loader());
    let ms = t.fit(&mut tr, Some(&mut va)).unwrap();
    assert_eq!(ms.len(), 5);
    assert_eq!(t.epoch(), 5);
    assert_eq!(t.history(), &ms[..]);
    let first = &ms[0];
    let last = &ms[4];
    assert!(last["loss"] < 0.5 * first["loss"], "{first:?} → {last:?}");
    for w in ms.windows(2) {
        assert!(w[1]["loss"] < w[0]["loss"] * 1.05, "loss went up: {ms:?}");
    }
    assert!(last["accuracy"] > 0.9, "{last:?}");
    assert!(last["val_accuracy"] > 0.9, "{last:?}");
    assert!(last["val_loss"] < first["val_loss"], "{ms:?}");
    for m in &ms {
        for k in [
            "loss",
            "accuracy",
            "val_loss",
            "val_accuracy",
            "lr",
            "samples_per_sec",
        ] {
            assert!(m.get(k).is_some_and(|v| v.is_finite()), "{k} in {m:?}");
        }
        assert_eq!(m["lr"], 0.05);
    }
    // Evaluating again gives the last epoch's validation metrics.
    let e = t.evaluate(&mut va).unwrap();
    assert_eq!(e["loss"], last["val_loss"]);
    assert_eq!(e["accuracy"], last["val_accuracy"]);

    // Without a validation loader there are no val metrics.
    let model = mlp(11, 16);
    let mut t = Trainer::new(&model, adam(&model, 0.05), ce, quiet(1));
    let ms = t
        .fit(&mut tr, None::<&mut DataLoader<TensorDataset>>)
        .unwrap();
    assert!(ms[0].contains_key("loss") && ms[0].contains_key("accuracy"));
    assert!(!ms[0].contains_key("val_loss") && !ms[0].contains_key("val_accuracy"));
}

#[derive(Debug, PartialEq)]
enum Seen {
    Start(usize),
    Batch(usize, usize),
    End(usize, Metrics),
}

#[test]
fn fit_publishes_epoch_and_batch_events() {
    let _s = serial();
    let me = std::thread::current().id();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let bus = global_event_bus();
    let ids: Vec<_> = ["EpochStart", "EpochEnd", "BatchEnd"]
        .into_iter()
        .map(|pat| {
            let seen = Arc::clone(&seen);
            bus.subscribe(
                pat,
                Arc::new(move |e: &PluginEvent| {
                    // Delivery is synchronous on the publishing thread: keep only ours.
                    if std::thread::current().id() != me {
                        return;
                    }
                    let s = match e {
                        PluginEvent::EpochStart { epoch } => Seen::Start(*epoch),
                        PluginEvent::BatchEnd { epoch, batch, .. } => Seen::Batch(*epoch, *batch),
                        PluginEvent::EpochEnd { epoch, metrics } => {
                            Seen::End(*epoch, metrics.clone())
                        }
                        _ => return,
                    };
                    seen.lock().unwrap().push(s);
                }),
            )
        })
        .collect();

    let model = mlp(20, 16);
    let mut t = Trainer::new(&model, adam(&model, 0.05), ce, quiet(3));
    let mut tr = DataLoader::new(
        blobs(300, 1),
        DataLoaderConfig {
            batch_size: 50,
            shuffle: true,
            ..Default::default()
        },
    )
    .unwrap();
    let mut va = val_loader();
    let result = t.fit(&mut tr, Some(&mut va));
    let unsubscribed: Vec<bool> = ids.iter().map(|&id| bus.unsubscribe(id)).collect();
    let ms = result.unwrap();
    assert_eq!(unsubscribed, [true, true, true]);

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let mut want = Vec::new();
    for (e, m) in ms.iter().enumerate() {
        want.push(Seen::Start(e));
        want.extend((0..6).map(|b| Seen::Batch(e, b)));
        want.push(Seen::End(e, m.clone()));
    }
    assert_eq!(seen, want);
    let ends: Vec<&Metrics> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::End(_, m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(ends.len(), 3);
    for m in ends {
        assert!(
            m.contains_key("loss") && m.contains_key("accuracy"),
            "{m:?}"
        );
        assert!(m.contains_key("val_loss"), "{m:?}");
    }
}

/// A trainer with Adam and StepLR(1, 0.7) over `m`, training to `epochs`.
fn scheduled(m: &dyn Module, cfg: TrainerConfig) -> Trainer<'_> {
    let mut opt = adam(m, 0.02);
    let sched = LrScheduler::new(
        &mut opt,
        StepLr {
            step_size: 1,
            gamma: 0.7,
        },
    )
    .unwrap();
    Trainer::new(m, opt, ce, cfg).with_scheduler(sched)
}

#[test]
fn resume_continues_exactly() {
    let _s = serial();
    let path = temp("resume").with_extension("safetensors");

    // A: four epochs in one go.
    let model_a = mlp(30, 16);
    let mut ta = scheduled(&model_a, quiet(4));
    ta.fit(&mut train_loader(5), Some(&mut val_loader()))
        .unwrap();

    // B: two epochs, a checkpoint, then a new model, optimizer and scheduler resume to four.
    let model_b = mlp(30, 16);
    let mut tb = scheduled(&model_b, quiet(2));
    assert_eq!(
        tb.fit(&mut train_loader(5), Some(&mut val_loader()))
            .unwrap()
            .len(),
        2
    );
    tb.save_checkpoint(&path).unwrap();

    let model_c = mlp(31, 16);
    assert_ne!(snapshot(&model_c), snapshot(&model_b));
    let mut tc = scheduled(&model_c, quiet(4));
    tc.resume(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(tc.epoch(), 2);
    assert_eq!(tc.history().len(), 2);
    assert_eq!(snapshot(&model_c), snapshot(&model_b));
    let lr = tc.optimizer_mut().param_groups()[0].lr;
    assert_eq!(
        lr,
        tb.optimizer_mut().param_groups()[0].lr,
        "scheduler restored"
    );
    let ran = tc
        .fit(&mut train_loader(5), Some(&mut val_loader()))
        .unwrap();
    assert_eq!(ran.len(), 2);
    assert_eq!(tc.epoch(), 4);

    assert_eq!(
        snapshot(&model_c),
        snapshot(&model_a),
        "bitwise identical parameters"
    );
    assert_eq!(
        tc.optimizer_mut().param_groups()[0].lr,
        ta.optimizer_mut().param_groups()[0].lr
    );
    // The epochs trained after the resume match A's exactly ...
    assert_eq!(deterministic(&ran), deterministic(&ta.history()[2..]));
    // ... and so does the restored part of the history (checked last, so that a failure
    // here says only that the saved history did not round trip).
    assert_eq!(tc.history()[..2], tb.history()[..], "restored history");
    assert_eq!(deterministic(tc.history()), deterministic(ta.history()));
}

#[test]
fn early_stopping_stops_when_nothing_improves() {
    let _s = serial();
    let model = mlp(40, 16);
    let before = snapshot(&model);
    let opt = Sgd::new(
        model.parameters(),
        SgdConfig {
            lr: 0.0,
            ..Default::default()
        },
    )
    .unwrap();
    let cfg = TrainerConfig {
        early_stopping: Some(EarlyStopping {
            patience: 2,
            min_delta: 0.0,
        }),
        monitor: Monitor::ValLoss,
        ..quiet(20)
    };
    let mut t = Trainer::new(&model, opt, ce, cfg);
    let ran = t
        .fit(&mut train_loader(0), Some(&mut val_loader()))
        .unwrap();
    assert_eq!(
        ran.len(),
        3,
        "the first epoch sets the best, two more are stale"
    );
    assert_eq!(t.epoch(), 3);
    assert!(ran.iter().all(|m| m["val_loss"] == ran[0]["val_loss"]));
    assert_eq!(snapshot(&model), before, "lr = 0 changes nothing");
}

/// Same epochs, same keys, values equal to 1e-12 relative: which file holds which epoch.
/// (`resume_continues_exactly` checks that histories round trip exactly.)
fn assert_close(got: &[Metrics], want: &[Metrics]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!(g.keys().eq(w.keys()), "{g:?} vs {w:?}");
        for (k, v) in w {
            assert!(
                (g[k] - v).abs() <= 1e-12 * v.abs().max(1.0),
                "{k}: {g:?} vs {w:?}"
            );
        }
    }
}

#[test]
fn checkpoint_dir_periodic_and_best_files() {
    let _s = serial();
    let dir = temp("dir");
    let model = mlp(50, 16);
    let cfg = TrainerConfig {
        checkpoint_dir: Some(dir.clone()),
        checkpoint_every: 2,
        ..quiet(5)
    };
    let mut t = Trainer::new(&model, adam(&model, 0.05), ce, cfg);
    let ms = t
        .fit(&mut train_loader(0), Some(&mut val_loader()))
        .unwrap();
    let file = |n: &str| dir.join(n);
    for e in 1..=5 {
        let p = file(&format!("epoch-{e}.safetensors"));
        assert_eq!(p.exists(), e % 2 == 0, "{}", p.display());
    }
    assert!(file("best.safetensors").exists());
    let no_tmp = std::fs::read_dir(&dir)
        .unwrap()
        .all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".tmp"));
    assert!(no_tmp, "no temporary files left behind");

    // best.safetensors is the epoch with the lowest val_loss (the first of ties).
    let mut best = 0;
    for (i, m) in ms.iter().enumerate() {
        if m["val_loss"] < ms[best]["val_loss"] {
            best = i;
        }
    }
    let other = mlp(51, 16);
    let mut r = Trainer::new(&other, adam(&other, 0.05), ce, quiet(5));
    r.resume(file("best.safetensors")).unwrap();
    assert_eq!(r.epoch(), best + 1);
    assert_close(r.history(), &ms[..=best]);

    // epoch-4 holds the state after four epochs.
    let mut r = Trainer::new(&other, adam(&other, 0.05), ce, quiet(5));
    r.resume(file("epoch-4.safetensors")).unwrap();
    assert_eq!(r.epoch(), 4);
    assert_close(r.history(), &ms[..4]);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn assert_resume_fails_cleanly(t: &mut Trainer<'_>, model: &dyn Module, path: &Path) -> Error {
    let before = snapshot(model);
    let e = t.resume(path).unwrap_err();
    assert_eq!(
        snapshot(model),
        before,
        "a failed resume changes the model: {e}"
    );
    assert_eq!(t.epoch(), 0);
    assert!(t.history().is_empty());
    e
}

#[test]
fn bad_resumes_are_errors_and_change_nothing() {
    let _s = serial();
    let dir = temp("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let model = mlp(60, 16);
    let mut t = Trainer::new(&model, adam(&model, 0.05), ce, quiet(1));
    t.fit(&mut train_loader(0), None::<&mut DataLoader<TensorDataset>>)
        .unwrap();
    let good = dir.join("good.safetensors");
    t.save_checkpoint(&good).unwrap();

    // A plain state dict is not a trainer checkpoint.
    let plain = dir.join("plain.safetensors");
    st_nn::checkpoint::save(&plain, &model.state_dict(), &Default::default()).unwrap();
    let garbage = dir.join("garbage.safetensors");
    std::fs::write(&garbage, b"garbage, not safetensors").unwrap();

    let fresh = mlp(61, 16);
    let mut f = Trainer::new(&fresh, adam(&fresh, 0.05), ce, quiet(2));
    let e = assert_resume_fails_cleanly(&mut f, &fresh, &plain);
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
    assert!(assert_resume_fails_cleanly(&mut f, &fresh, &garbage)
        .to_string()
        .contains("garbage.safetensors"));
    let e = assert_resume_fails_cleanly(&mut f, &fresh, &dir.join("missing.safetensors"));
    assert!(matches!(e, Error::Io { .. }), "{e:?}");

    // A model of another shape: the checkpoint does not fit, and nothing is written.
    let narrow = mlp(62, 8);
    let mut n = Trainer::new(&narrow, adam(&narrow, 0.05), ce, quiet(2));
    let e = assert_resume_fails_cleanly(&mut n, &narrow, &good);
    match e {
        Error::StateDict(m) => {
            assert!(
                m.mismatched.iter().any(|k| k.starts_with("0.weight")),
                "{:?}",
                m.mismatched
            )
        }
        other => panic!("expected Error::StateDict, got {other:?}"),
    }
    assert_eq!(n.optimizer_mut().param_groups()[0].lr, 0.05);

    // The good checkpoint still resumes into a fitting model.
    f.resume(&good).unwrap();
    assert_eq!(f.epoch(), 1);
    assert_eq!(snapshot(&fresh), snapshot(&model));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn resume_failing_after_the_model_loaded_changes_nothing() {
    let _s = serial();
    let path = temp("late").with_extension("safetensors");
    let model = mlp(80, 16);
    let mut t = Trainer::new(&model, adam(&model, 0.05), ce, quiet(1));
    t.fit(&mut train_loader(0), None::<&mut DataLoader<TensorDataset>>)
        .unwrap();
    t.save_checkpoint(&path).unwrap(); // Adam state, no scheduler

    // An SGD trainer: the model fits, Adam's state does not.
    let fresh = mlp(81, 16);
    let sgd = Sgd::new(
        fresh.parameters(),
        SgdConfig {
            lr: 0.3,
            momentum: 0.9,
            ..Default::default()
        },
    )
    .unwrap();
    let mut s = Trainer::new(&fresh, sgd, ce, quiet(2));
    let e = assert_resume_fails_cleanly(&mut s, &fresh, &path);
    assert!(matches!(e, Error::StateDict { .. }), "{e:?}");
    assert_eq!(s.optimizer_mut().param_groups()[0].lr, 0.3);
    assert!(s.optimizer_mut().state_dict().state.is_empty());

    // A trainer with a scheduler: model and optimizer fit, the scheduler state is missing.
    let mut opt = adam(&fresh, 0.1);
    let sched = LrScheduler::new(
        &mut opt,
        StepLr {
            step_size: 1,
            gamma: 0.5,
        },
    )
    .unwrap();
    let mut a = Trainer::new(&fresh, opt, ce, quiet(2)).with_scheduler(sched);
    let e = assert_resume_fails_cleanly(&mut a, &fresh, &path);
    std::fs::remove_file(&path).unwrap();
    assert!(e.to_string().contains("scheduler"), "{e}");
    // "nothing is changed then": the optimizer keeps its rate and its (empty) state.
    assert_eq!(
        a.optimizer_mut().param_groups()[0].lr,
        0.1,
        "optimizer lr changed"
    );
    assert!(
        a.optimizer_mut().state_dict().state.is_empty(),
        "optimizer state was loaded by a failed resume"
    );
}

#[test]
fn evaluate_runs_in_eval_mode_and_restores_the_mode() {
    let _s = serial();
    st_core::manual_seed(70);
    let model = Sequential::new()
        .push(Linear::new(2, 32).unwrap())
        .push(Relu)
        .push(Dropout::with_seed(0.5, 70).unwrap())
        .push(Linear::new(32, 3).unwrap());
    let t = Trainer::new(&model, adam(&model, 0.05), ce, quiet(1));
    let mut va = val_loader();

    model.train();
    let a = t.evaluate(&mut va).unwrap();
    assert!(model.is_training(), "evaluate restores training mode");
    let b = t.evaluate(&mut va).unwrap();
    assert_eq!(a, b, "Dropout is off while evaluating");
    assert!(a.contains_key("loss") && a.contains_key("accuracy"));

    model.eval();
    let c = t.evaluate(&mut va).unwrap();
    assert!(!model.is_training(), "evaluate keeps evaluation mode");
    assert_eq!(a, c);
    // Gradients are not tracked while evaluating.
    assert!(model.parameters().iter().all(|p| p.grad().is_none()));
}
