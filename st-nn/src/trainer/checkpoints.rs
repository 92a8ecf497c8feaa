//! Trainer checkpoints: model, optimizer and scheduler state plus the loop state, in one
//! safetensors file (`model.*` and `optim.<index>.<name>` tensors, the rest as JSON metadata).

use super::fit::Trainer;
use crate::checkpoint;
use crate::module::StateDict;
use crate::optim::{GroupState, OptimizerState};
use serde_json::{json, Value};
use st_core::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

const META_KEY: &str = "spiraltorch.trainer";

fn bad(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::invalid(
        "Trainer::resume",
        format!("{}: not a trainer checkpoint ({what})", path.display()),
    )
}

impl Trainer<'_> {
    /// Writes `epoch-N.safetensors` on the configured period and `best.safetensors` when
    /// this epoch improved the monitored metric.
    pub(crate) fn write_checkpoints(&self, epoch: usize, improved: bool) -> Result<()> {
        let Some(dir) = &self.cfg.checkpoint_dir else {
            return Ok(());
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let every = self.cfg.checkpoint_every;
        if every > 0 && (epoch + 1).is_multiple_of(every) {
            self.save_checkpoint(dir.join(format!("epoch-{}.safetensors", epoch + 1)))?;
        }
        if improved {
            self.save_checkpoint(dir.join("best.safetensors"))?;
        }
        Ok(())
    }

    /// Saves everything [`resume`](Trainer::resume) needs to continue exactly where this
    /// trainer is: model, optimizer, scheduler, epoch, best metric and history.
    ///
    /// # Errors
    /// [`Error::Io`] for file-system errors.
    pub fn save_checkpoint(&self, path: impl AsRef<Path>) -> Result<()> {
        let mut tensors = StateDict::new();
        for (n, t) in self.model.state_dict() {
            tensors.insert(format!("model.{n}"), t);
        }
        let opt = self.optimizer.state_dict();
        for (i, entries) in &opt.state {
            for (k, t) in entries {
                tensors.insert(format!("optim.{i}.{k}"), t.clone());
            }
        }
        let groups: Vec<Value> = opt
            .param_groups
            .iter()
            .map(|g| json!({ "options": g.options, "params": g.params }))
            .collect();
        let meta = json!({
            "epoch": self.epoch,
            "best": self.best,
            "stale": self.stale,
            "history": self.history,
            "param_groups": groups,
            "scheduler": self.scheduler.as_ref().map(|s| s.state_dict()),
        });
        let info = BTreeMap::from([(META_KEY.to_string(), meta.to_string())]);
        checkpoint::save(path, &tensors, &info)
    }

    /// Restores a checkpoint written by [`save_checkpoint`](Trainer::save_checkpoint) into
    /// this trainer's model, optimizer and scheduler; the next [`fit`](Trainer::fit) continues
    /// from the saved epoch with the same data order.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::InvalidArgument`] for a file that
    /// is not a trainer checkpoint; [`Error::StateDict`] when it does not fit the model or
    /// optimizer (nothing is changed then).
    pub fn resume(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let device = self
            .model
            .parameters()
            .first()
            .map_or_else(st_core::Device::cpu, |p| p.device());
        let (tensors, info) = checkpoint::load(path, &device)?;
        let meta: Value = info
            .get(META_KEY)
            .ok_or_else(|| bad(path, format!("no {META_KEY} metadata")))
            .and_then(|s| serde_json::from_str(s).map_err(|e| bad(path, e)))?;
        let mut model_sd = StateDict::new();
        let mut opt = OptimizerState::default();
        for (name, t) in tensors {
            if let Some(n) = name.strip_prefix("model.") {
                model_sd.insert(n, t);
            } else if let Some(rest) = name.strip_prefix("optim.") {
                let (i, k) = rest
                    .split_once('.')
                    .and_then(|(i, k)| Some((i.parse::<usize>().ok()?, k)))
                    .ok_or_else(|| bad(path, format!("tensor {name}")))?;
                opt.state.entry(i).or_default().insert(k.to_string(), t);
            } else {
                return Err(bad(path, format!("unexpected tensor {name}")));
            }
        }
        for g in meta["param_groups"].as_array().into_iter().flatten() {
            let options: BTreeMap<String, f64> =
                serde_json::from_value(g["options"].clone()).map_err(|e| bad(path, e))?;
            let params: Vec<usize> =
                serde_json::from_value(g["params"].clone()).map_err(|e| bad(path, e))?;
            opt.param_groups.push(GroupState { options, params });
        }
        let sched: Option<BTreeMap<String, f64>> =
            serde_json::from_value(meta["scheduler"].clone()).map_err(|e| bad(path, e))?;
        let history = serde_json::from_value(meta["history"].clone()).map_err(|e| bad(path, e))?;
        let epoch = meta["epoch"]
            .as_u64()
            .ok_or_else(|| bad(path, "no epoch"))? as usize;
        // Check everything that can fail before writing anything: the scheduler state, then
        // the model (load_state_dict validates every key first), then the optimizer (whose
        // load is all or none); the model is rolled back if the optimizer refuses.
        match (&self.scheduler, &sched) {
            (Some(s), Some(state)) => {
                s.check_state(state)?;
            }
            (Some(_), None) => return Err(bad(path, "the checkpoint has no scheduler state")),
            _ => {}
        }
        let backup = self.model.state_dict().deep_clone()?;
        self.model.load_state_dict(&model_sd, true)?;
        if let Err(e) = self.optimizer.load_state_dict(&opt) {
            self.model.load_state_dict(&backup, true)?;
            return Err(e);
        }
        if let (Some(s), Some(state)) = (&mut self.scheduler, sched) {
            s.load_state_dict(&state, &mut *self.optimizer)?;
        }
        self.epoch = epoch;
        self.best = meta["best"].as_f64();
        self.stale = meta["stale"].as_u64().unwrap_or(0) as usize;
        self.history = history;
        Ok(())
    }
}
