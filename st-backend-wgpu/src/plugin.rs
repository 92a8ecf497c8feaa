//! The WGPU backend as a plugin: capability `Backend("WGPU")` and a `wgpu_device` service
//! holding [`device(0)`](crate::device()). `on_load` opens the adapter (respecting
//! `WGPU_BACKEND` and `WGPU_ADAPTER_NAME`) and fails with `BackendUnavailable` — never a
//! panic — when none exists.

use crate::device::gpu;
use st_core::error::Result;
use st_core::plugin::{Plugin, PluginCapability, PluginContext, PluginMetadata};
use std::any::Any;

/// The WGPU backend plugin.
#[derive(Debug, Default)]
pub struct WgpuBackendPlugin {
    loaded: bool,
}

impl WgpuBackendPlugin {
    /// Id under which the plugin registers.
    pub const ID: &'static str = "wgpu_backend";

    /// Name of the service holding the WGPU [`Device`](st_core::Device).
    pub const DEVICE_SERVICE: &'static str = "wgpu_device";

    /// True between a successful `on_load` and `on_unload`.
    pub fn is_loaded(&self) -> bool {
        self.loaded
    }
}

impl Plugin for WgpuBackendPlugin {
    fn metadata(&self) -> PluginMetadata {
        PluginMetadata::new(Self::ID, st_core::plugin::CORE_VERSION)
            .with_name("WGPU backend")
            .with_description("Device-resident tensors and WGSL kernels through wgpu 30")
            .with_author("SpiralTorch")
            .with_capability(PluginCapability::Backend("WGPU".into()))
    }

    fn on_load(&mut self, ctx: &mut PluginContext) -> Result<()> {
        let g = gpu()?;
        ctx.set_config("wgpu.adapter", g.info.name.clone());
        ctx.set_config("wgpu.backend", format!("{:?}", g.info.backend));
        ctx.set_config("wgpu.device_type", format!("{:?}", g.info.device_type));
        ctx.set_config(
            "wgpu.driver",
            format!("{} {}", g.info.driver, g.info.driver_info),
        );
        ctx.set_config("wgpu.max_buffer_size", g.limits.max_buffer_size.to_string());
        ctx.set_config(
            "wgpu.max_storage_buffer_binding_size",
            g.limits.max_storage_buffer_binding_size.to_string(),
        );
        ctx.set_config("wgpu.shader_f16", g.has_f16().to_string());
        ctx.register_service(Self::DEVICE_SERVICE, crate::device(0)?);
        self.loaded = true;
        Ok(())
    }

    fn on_unload(&mut self, ctx: &mut PluginContext) -> Result<()> {
        ctx.remove_service(Self::DEVICE_SERVICE);
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

st_core::submit_plugin!(WgpuBackendPlugin::default);
