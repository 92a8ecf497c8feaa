//! Example dynamic plugin: counts `TensorOp` events per op name and exposes the counts as the
//! `op_counts` service (an `Arc<Mutex<BTreeMap<String, u64>>>`, built from std types only so the
//! host can read it without linking this crate).
//!
//! Build with `cargo build -p op-counter`, copy `libop_counter.so` (`.dylib`, `.dll`) into a
//! `plugins/` directory, then in the host:
//!
//! ```ignore
//! DynamicPluginLoader::new().load_into(Path::new("plugins"), global_registry())?;
//! global_registry().initialize_all()?;
//! let counts = global_registry().context()
//!     .get_service::<Arc<Mutex<BTreeMap<String, u64>>>>("op_counts");
//! ```
//!
//! Publishing a custom event named `op_counter.panic` makes the plugin panic in `on_event`,
//! which the host's tests use to check that panics stay inside the plugin.

use st_core::events::PluginEvent;
use st_core::plugin::{Plugin, PluginCapability, PluginContext, PluginMetadata};
use st_core::Result;
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The shared counts: op name → number of dispatches.
pub type OpCounts = Arc<Mutex<BTreeMap<String, u64>>>;

/// Name of the service holding the [`OpCounts`].
pub const SERVICE: &str = "op_counts";

/// The plugin.
#[derive(Default)]
pub struct OpCounter {
    counts: OpCounts,
}

impl Plugin for OpCounter {
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new("op_counter", env!("CARGO_PKG_VERSION"))
            .with_name("Op counter")
            .with_description("Counts dispatched tensor ops per op name")
            .with_author("SpiralTorch examples")
            .with_capability(PluginCapability::Telemetry)
            .with_capability(PluginCapability::Custom("op-counting".into()))
    }

    fn on_load(&mut self, ctx: &mut PluginContext) -> Result<()> {
        ctx.register_service(SERVICE, self.counts.clone());
        ctx.receive_tensor_ops();
        Ok(())
    }

    fn on_unload(&mut self, _ctx: &mut PluginContext) -> Result<()> {
        Ok(())
    }

    fn on_event(&mut self, event: &PluginEvent, _ctx: &PluginContext) -> Result<()> {
        match event {
            PluginEvent::TensorOp { op, .. } => {
                let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
                *counts.entry(op.to_string()).or_insert(0) += 1;
            }
            PluginEvent::Custom { event_type, .. } if event_type == "op_counter.panic" => {
                panic!("op_counter was asked to panic");
            }
            _ => {}
        }
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

st_core::declare_plugin!("op_counter", OpCounter);
