//! The CPU backend as a plugin: capability `Backend("CPU")` and a `cpu_device` service holding
//! [`Device::cpu()`]. Linked in with `submit_plugin!`, so `init_plugin_system()` loads it.

use super::context::PluginContext;
use super::declare::CORE_VERSION;
use super::metadata::{PluginCapability, PluginMetadata};
use super::traits::Plugin;
use crate::device::Device;
use crate::error::Result;
use std::any::Any;

/// The always-present CPU backend, seen through the plugin system.
#[derive(Debug, Default)]
pub struct CpuBackendPlugin {
    loaded: bool,
}

impl CpuBackendPlugin {
    /// Id under which the plugin registers.
    pub const ID: &'static str = "cpu_backend";

    /// Name of the service holding the CPU [`Device`].
    pub const DEVICE_SERVICE: &'static str = "cpu_device";

    /// True between `on_load` and `on_unload`.
    pub fn is_loaded(&self) -> bool {
        self.loaded
    }
}

impl Plugin for CpuBackendPlugin {
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new(Self::ID, CORE_VERSION)
            .with_name("CPU backend")
            .with_description("Host CPU kernels (always linked into st-core)")
            .with_author("SpiralTorch")
            .with_capability(PluginCapability::Backend("CPU".into()))
            .with_metadata("threads", rayon::current_num_threads().to_string())
    }

    fn on_load(&mut self, ctx: &mut PluginContext) -> Result<()> {
        ctx.register_service(Self::DEVICE_SERVICE, Device::cpu());
        self.loaded = true;
        Ok(())
    }

    fn on_unload(&mut self, _ctx: &mut PluginContext) -> Result<()> {
        self.loaded = false;
        Ok(())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

crate::submit_plugin!(CpuBackendPlugin::default);
