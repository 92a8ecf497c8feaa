//! [`OpProfiler`]: records every dispatched op and writes a Chrome trace (`traceEvents` of
//! complete `"X"` events, timestamps in microseconds) that Perfetto and `chrome://tracing` open.

use crate::error::{Error, Result};
use crate::events::PluginEvent;
use crate::plugin::{Plugin, PluginCapability, PluginContext, PluginMetadata, CORE_VERSION};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// One recorded op.
#[derive(Clone, Debug, PartialEq)]
pub struct OpRecord {
    /// Op name.
    pub op: &'static str,
    /// Backend name.
    pub backend: &'static str,
    /// Dispatch dtype name.
    pub dtype: &'static str,
    /// Input shapes.
    pub input_shapes: Vec<Vec<usize>>,
    /// Output shape.
    pub output_shape: Vec<usize>,
    /// Start, in microseconds since the profiler loaded.
    pub start_us: f64,
    /// Duration in microseconds.
    pub dur_us: f64,
    /// Small per-thread number (Chrome trace `tid`).
    pub tid: u64,
}

struct ProfilerState {
    origin: Instant,
    records: Vec<OpRecord>,
    /// Training events as Chrome trace events: an `"X"` span per epoch, an instant per batch.
    training: Vec<Value>,
    /// Start (µs) of the epoch in progress.
    epoch_start: Option<(usize, f64)>,
}

/// Shared access to a profiler's records, usable after the plugin is registered (also available
/// as the `op_profiler` service).
#[derive(Clone)]
pub struct ProfilerHandle {
    state: Arc<Mutex<ProfilerState>>,
}

impl std::fmt::Debug for ProfilerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfilerHandle")
            .field("records", &self.len())
            .finish()
    }
}

fn thread_number() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static TID: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    TID.with(|t| *t)
}

impl ProfilerHandle {
    /// A copy of the records so far.
    pub fn records(&self) -> Vec<OpRecord> {
        self.state.lock().records.clone()
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.state.lock().records.len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the records and restarts the clock.
    pub fn clear(&self) {
        let mut s = self.state.lock();
        s.records.clear();
        s.training.clear();
        s.epoch_start = None;
        s.origin = Instant::now();
    }

    fn record(&self, event: &PluginEvent) {
        match event {
            PluginEvent::EpochStart { epoch } => {
                let mut s = self.state.lock();
                let now = s.origin.elapsed().as_secs_f64() * 1e6;
                s.epoch_start = Some((*epoch, now));
                return;
            }
            PluginEvent::EpochEnd { epoch, metrics } => {
                let mut s = self.state.lock();
                let now = s.origin.elapsed().as_secs_f64() * 1e6;
                let start = match s.epoch_start.take() {
                    Some((e, t)) if e == *epoch => t,
                    _ => now,
                };
                let ev = json!({
                    "name": format!("epoch {epoch}"), "cat": "training", "ph": "X",
                    "ts": start, "dur": now - start, "pid": std::process::id(),
                    "tid": thread_number(), "args": { "epoch": epoch, "metrics": metrics },
                });
                s.training.push(ev);
                return;
            }
            PluginEvent::BatchEnd {
                epoch,
                batch,
                metrics,
            } => {
                let mut s = self.state.lock();
                let now = s.origin.elapsed().as_secs_f64() * 1e6;
                let ev = json!({
                    "name": "batch", "cat": "training", "ph": "i", "s": "t", "ts": now,
                    "pid": std::process::id(), "tid": thread_number(),
                    "args": { "epoch": epoch, "batch": batch, "metrics": metrics },
                });
                s.training.push(ev);
                return;
            }
            _ => {}
        }
        if let PluginEvent::TensorOp {
            op,
            backend,
            dtype,
            input_shapes,
            output_shape,
            duration_ns,
        } = event
        {
            let mut s = self.state.lock();
            let end_us = s.origin.elapsed().as_secs_f64() * 1e6;
            let dur_us = *duration_ns as f64 / 1e3;
            s.records.push(OpRecord {
                op,
                backend,
                dtype,
                input_shapes: input_shapes.clone(),
                output_shape: output_shape.clone(),
                start_us: (end_us - dur_us).max(0.0),
                dur_us,
                tid: thread_number(),
            });
        }
    }

    /// The Chrome trace: `{"traceEvents": [...], "displayTimeUnit": "ns"}` with one complete
    /// (`"ph": "X"`) event per op (op, backend, dtype and shapes in `args`), one per training
    /// epoch (`"cat": "training"`, metrics in `args`) and an instant event per batch.
    pub fn chrome_trace(&self) -> Value {
        let s = self.state.lock();
        let mut events: Vec<Value> = s
            .records
            .iter()
            .map(|r| {
                json!({
                    "name": r.op,
                    "cat": r.backend,
                    "ph": "X",
                    "ts": r.start_us,
                    "dur": r.dur_us,
                    "pid": std::process::id(),
                    "tid": r.tid,
                    "args": {
                        "op": r.op,
                        "backend": r.backend,
                        "dtype": r.dtype,
                        "input_shapes": r.input_shapes,
                        "output_shape": r.output_shape,
                    },
                })
            })
            .collect();
        events.extend(s.training.iter().cloned());
        json!({ "traceEvents": events, "displayTimeUnit": "ns" })
    }

    /// Writes [`ProfilerHandle::chrome_trace`] to `path`.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be written.
    pub fn write_chrome_trace(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let text = self.chrome_trace().to_string();
        std::fs::write(path, text)
            .map_err(|e| Error::io(format!("writing Chrome trace {}", path.display()), e))
    }
}

/// The op profiler plugin (id `op_profiler`, capability Telemetry).
///
/// ```
/// use st_core::plugin::{telemetry::OpProfiler, PluginRegistry};
/// let profiler = OpProfiler::new();
/// let records = profiler.handle();
/// let registry = PluginRegistry::new();
/// registry.register(Box::new(profiler))?;
/// registry.initialize_all()?;
/// assert!(records.is_empty());
/// # Ok::<(), st_core::Error>(())
/// ```
pub struct OpProfiler {
    handle: ProfilerHandle,
    output: Option<PathBuf>,
}

impl Default for OpProfiler {
    fn default() -> Self {
        Self::new()
    }
}

impl OpProfiler {
    /// Plugin id.
    pub const ID: &'static str = "op_profiler";

    /// A profiler with no output file.
    pub fn new() -> Self {
        OpProfiler {
            handle: ProfilerHandle {
                state: Arc::new(Mutex::new(ProfilerState {
                    origin: Instant::now(),
                    records: Vec::new(),
                    training: Vec::new(),
                    epoch_start: None,
                })),
            },
            output: None,
        }
    }

    /// Also writes the trace to `path` when the plugin unloads.
    pub fn with_output(mut self, path: impl Into<PathBuf>) -> Self {
        self.output = Some(path.into());
        self
    }

    /// A handle on the records.
    pub fn handle(&self) -> ProfilerHandle {
        self.handle.clone()
    }
}

impl Plugin for OpProfiler {
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new(Self::ID, CORE_VERSION)
            .with_name("Op profiler")
            .with_description("Chrome trace (Perfetto) of every dispatched op")
            .with_author("SpiralTorch")
            .with_capability(PluginCapability::Telemetry)
    }

    fn on_load(&mut self, ctx: &mut PluginContext) -> Result<()> {
        self.handle.clear();
        ctx.receive_tensor_ops();
        ctx.register_service(Self::ID, self.handle.clone());
        Ok(())
    }

    fn on_unload(&mut self, _ctx: &mut PluginContext) -> Result<()> {
        match &self.output {
            Some(path) => self.handle.write_chrome_trace(path),
            None => Ok(()),
        }
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
