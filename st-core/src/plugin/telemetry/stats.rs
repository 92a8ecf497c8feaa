//! [`OpStats`]: count, total, mean, min and max kernel time per (op, backend, dtype), as a
//! printed table or JSON.

use crate::error::{Error, Result};
use crate::events::PluginEvent;
use crate::plugin::{Plugin, PluginCapability, PluginContext, PluginMetadata, CORE_VERSION};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

/// Timing statistics of one (op, backend, dtype).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpStat {
    /// Number of dispatches.
    pub count: u64,
    /// Sum of kernel times, nanoseconds.
    pub total_ns: u64,
    /// Shortest kernel time, nanoseconds.
    pub min_ns: u64,
    /// Longest kernel time, nanoseconds.
    pub max_ns: u64,
}

impl OpStat {
    /// Mean kernel time in nanoseconds (0 when empty).
    pub fn mean_ns(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total_ns as f64 / self.count as f64
        }
    }

    fn add(&mut self, ns: u64) {
        self.min_ns = if self.count == 0 {
            ns
        } else {
            self.min_ns.min(ns)
        };
        self.max_ns = self.max_ns.max(ns);
        self.count += 1;
        self.total_ns += ns;
    }
}

type Key = (&'static str, &'static str, &'static str);

/// Shared access to the statistics (also the `op_stats` service).
#[derive(Clone, Default)]
pub struct StatsHandle {
    table: Arc<Mutex<BTreeMap<Key, OpStat>>>,
}

impl std::fmt::Debug for StatsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatsHandle")
            .field("keys", &self.table.lock().len())
            .finish()
    }
}

impl StatsHandle {
    /// Statistics per (op, backend, dtype), sorted by key.
    pub fn snapshot(&self) -> Vec<((String, String, String), OpStat)> {
        self.table
            .lock()
            .iter()
            .map(|((o, b, d), s)| ((o.to_string(), b.to_string(), d.to_string()), *s))
            .collect()
    }

    /// Statistics of one key.
    pub fn get(&self, op: &str, backend: &str, dtype: &str) -> Option<OpStat> {
        let t = self.table.lock();
        t.iter()
            .find(|((o, b, d), _)| *o == op && *b == backend && *d == dtype)
            .map(|(_, s)| *s)
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.table.lock().clear();
    }

    fn record(&self, event: &PluginEvent) {
        if let PluginEvent::TensorOp {
            op,
            backend,
            dtype,
            duration_ns,
            ..
        } = event
        {
            self.table
                .lock()
                .entry((op, backend, dtype))
                .or_default()
                .add(*duration_ns);
        }
    }

    /// A fixed-width table, slowest total first.
    pub fn table(&self) -> String {
        let mut rows = self.snapshot();
        rows.sort_by(|a, b| b.1.total_ns.cmp(&a.1.total_ns).then(a.0.cmp(&b.0)));
        let mut out = format!(
            "{:<20} {:<8} {:<6} {:>9} {:>13} {:>12} {:>12} {:>12}\n",
            "op", "backend", "dtype", "count", "total ms", "mean us", "min us", "max us"
        );
        for ((op, backend, dtype), s) in rows {
            let _ = writeln!(
                out,
                "{op:<20} {backend:<8} {dtype:<6} {:>9} {:>13.3} {:>12.3} {:>12.3} {:>12.3}",
                s.count,
                s.total_ns as f64 / 1e6,
                s.mean_ns() / 1e3,
                s.min_ns as f64 / 1e3,
                s.max_ns as f64 / 1e3,
            );
        }
        out
    }

    /// The statistics as a JSON array of objects.
    pub fn to_json(&self) -> Value {
        let rows: Vec<Value> = self
            .snapshot()
            .into_iter()
            .map(|((op, backend, dtype), s)| {
                json!({
                    "op": op, "backend": backend, "dtype": dtype, "count": s.count,
                    "total_ns": s.total_ns, "mean_ns": s.mean_ns(),
                    "min_ns": s.min_ns, "max_ns": s.max_ns,
                })
            })
            .collect();
        Value::Array(rows)
    }

    /// Writes [`StatsHandle::to_json`] to `path`.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be written.
    pub fn write_json(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_json().to_string())
            .map_err(|e| Error::io(format!("writing op statistics {}", path.display()), e))
    }
}

/// The op statistics plugin (id `op_stats`, capability Telemetry).
#[derive(Default)]
pub struct OpStats {
    handle: StatsHandle,
    print_on_unload: bool,
}

impl OpStats {
    /// Plugin id.
    pub const ID: &'static str = "op_stats";

    /// A statistics plugin.
    pub fn new() -> Self {
        Self::default()
    }

    /// Prints the table to stdout when the plugin unloads.
    pub fn print_on_unload(mut self, on: bool) -> Self {
        self.print_on_unload = on;
        self
    }

    /// A handle on the statistics.
    pub fn handle(&self) -> StatsHandle {
        self.handle.clone()
    }
}

impl Plugin for OpStats {
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new(Self::ID, CORE_VERSION)
            .with_name("Op statistics")
            .with_description("Count and kernel time per (op, backend, dtype)")
            .with_author("SpiralTorch")
            .with_capability(PluginCapability::Telemetry)
    }

    fn on_load(&mut self, ctx: &mut PluginContext) -> Result<()> {
        ctx.receive_tensor_ops();
        ctx.register_service(Self::ID, self.handle.clone());
        Ok(())
    }

    fn on_unload(&mut self, _ctx: &mut PluginContext) -> Result<()> {
        if self.print_on_unload {
            print!("{}", self.handle.table());
        }
        Ok(())
    }

    fn on_event(&mut self, event: &PluginEvent, _ctx: &PluginContext) -> Result<()> {
        self.handle.record(event);
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
