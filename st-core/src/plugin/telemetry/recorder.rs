//! [`EventRecorder`]: appends every event on the bus to a JSON Lines file, one object per line
//! with a timestamp (`t_us`, microseconds since the recorder loaded) and the event's fields.

use crate::error::{Error, Result};
use crate::events::PluginEvent;
use crate::plugin::{Plugin, PluginCapability, PluginContext, PluginMetadata, CORE_VERSION};
use serde_json::{json, Value};
use std::any::Any;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

/// An event as JSON: `{"event": name, ...fields}`. Custom payloads are included when they are a
/// `String`, `&'static str`, `f64`, `i64`, `bool` or `serde_json::Value`.
pub fn event_to_json(event: &PluginEvent) -> Value {
    match event {
        PluginEvent::SystemInit | PluginEvent::SystemShutdown => json!({ "event": event.name() }),
        PluginEvent::PluginLoaded { plugin_id } | PluginEvent::PluginUnloaded { plugin_id } => {
            json!({ "event": event.name(), "plugin_id": plugin_id })
        }
        PluginEvent::TensorOp {
            op,
            backend,
            dtype,
            input_shapes,
            output_shape,
            duration_ns,
        } => {
            json!({
                "event": "TensorOp", "op": op, "backend": backend, "dtype": dtype,
                "input_shapes": input_shapes, "output_shape": output_shape,
                "duration_ns": duration_ns,
            })
        }
        PluginEvent::EpochStart { epoch } => json!({ "event": "EpochStart", "epoch": epoch }),
        PluginEvent::EpochEnd { epoch, metrics } => {
            json!({ "event": "EpochEnd", "epoch": epoch, "metrics": metrics })
        }
        PluginEvent::BatchEnd {
            epoch,
            batch,
            metrics,
        } => json!({ "event": "BatchEnd", "epoch": epoch, "batch": batch, "metrics": metrics }),
        PluginEvent::BackendChanged { backend } => {
            json!({ "event": "BackendChanged", "backend": backend })
        }
        PluginEvent::Custom { event_type, data } => {
            let d: &dyn Any = &**data;
            let payload = if let Some(v) = d.downcast_ref::<Value>() {
                v.clone()
            } else if let Some(s) = d.downcast_ref::<String>() {
                json!(s)
            } else if let Some(s) = d.downcast_ref::<&'static str>() {
                json!(s)
            } else if let Some(x) = d.downcast_ref::<f64>() {
                json!(x)
            } else if let Some(x) = d.downcast_ref::<i64>() {
                json!(x)
            } else if let Some(x) = d.downcast_ref::<bool>() {
                json!(x)
            } else {
                Value::Null
            };
            json!({ "event": "Custom", "event_type": event_type, "data": payload })
        }
    }
}

/// The event recorder plugin (id `event_recorder`, capability Telemetry).
pub struct EventRecorder {
    path: PathBuf,
    tensor_ops: bool,
    writer: Option<BufWriter<File>>,
    origin: Instant,
    lines: u64,
}

impl EventRecorder {
    /// Plugin id.
    pub const ID: &'static str = "event_recorder";

    /// A recorder writing to `path` (truncated on load). `TensorOp` events are left out unless
    /// [`EventRecorder::with_tensor_ops`] is set.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        EventRecorder {
            path: path.into(),
            tensor_ops: false,
            writer: None,
            origin: Instant::now(),
            lines: 0,
        }
    }

    /// Also records every op.
    pub fn with_tensor_ops(mut self, on: bool) -> Self {
        self.tensor_ops = on;
        self
    }

    /// Lines written so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    fn io(&self, e: std::io::Error) -> Error {
        Error::io(format!("event recorder writing {}", self.path.display()), e)
    }
}

impl Plugin for EventRecorder {
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new(Self::ID, CORE_VERSION)
            .with_name("Event recorder")
            .with_description("Writes every plugin-bus event to a JSONL file")
            .with_author("SpiralTorch")
            .with_capability(PluginCapability::Telemetry)
            .with_metadata("path", self.path.display().to_string())
    }

    fn on_load(&mut self, ctx: &mut PluginContext) -> Result<()> {
        let file = File::create(&self.path).map_err(|e| self.io(e))?;
        self.writer = Some(BufWriter::new(file));
        self.origin = Instant::now();
        if self.tensor_ops {
            ctx.receive_tensor_ops();
        }
        Ok(())
    }

    fn on_unload(&mut self, _ctx: &mut PluginContext) -> Result<()> {
        match self.writer.take() {
            Some(mut w) => w.flush().map_err(|e| self.io(e)),
            None => Ok(()),
        }
    }

    fn on_event(&mut self, event: &PluginEvent, _ctx: &PluginContext) -> Result<()> {
        let t_us = self.origin.elapsed().as_secs_f64() * 1e6;
        let mut line = event_to_json(event);
        if let Value::Object(m) = &mut line {
            m.insert("t_us".into(), json!(t_us));
        }
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        let r = writeln!(w, "{line}");
        r.map_err(|e| self.io(e))?;
        self.lines += 1;
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
