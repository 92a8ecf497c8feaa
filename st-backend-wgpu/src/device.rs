//! The WGPU device context: adapter selection, the [`Backend`] implementation (upload, download,
//! sync), and [`Gpu::run`], the one place that records and submits a compute dispatch.

use crate::buffer::{BufferPool, PoolStats, WgpuBuffer};
use crate::error::{backend_err, unavailable, BACKEND};
use crate::pipeline_cache::{PipelineCache, PipelineStats};
use parking_lot::Mutex;
use st_core::backend::{Backend, DeviceBuffer, Storage};
use st_core::{DType, Result};
use std::sync::{Arc, OnceLock};

/// Environment variable: `ST_WGPU_DISABLE_F16=1` opens the device without `SHADER_F16` even
/// when the adapter has it, so the f16-less behaviour (every f16 kernel fails with a clear
/// error) can be tested on any adapter.
pub const DISABLE_F16_ENV: &str = "ST_WGPU_DISABLE_F16";

/// Threads per workgroup of the 1-D kernels.
pub const WG: u32 = 256;

/// One opened adapter, device and queue, with its buffer pool and pipeline cache.
pub struct Gpu {
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// Adapter name, backend, driver.
    pub info: wgpu::AdapterInfo,
    /// Limits the device was opened with.
    pub limits: wgpu::Limits,
    /// Features the device was opened with.
    pub features: wgpu::Features,
    /// Whether `SHADER_F16` was left off because of [`DISABLE_F16_ENV`].
    f16_disabled: bool,
    /// Buffer pool.
    pub pool: Arc<BufferPool>,
    /// Compiled pipelines.
    pub pipelines: PipelineCache,
    errors: Arc<Mutex<Vec<String>>>,
}

static GPU: OnceLock<std::result::Result<Arc<Gpu>, String>> = OnceLock::new();

/// The process-wide device, opened on first use.
///
/// # Errors
/// [`st_core::Error::BackendUnavailable`] when no adapter or device can be opened.
pub fn gpu() -> Result<Arc<Gpu>> {
    GPU.get_or_init(|| {
        Gpu::open()
            .map(Arc::new)
            .map_err(st_core::Error::into_unavailable_reason)
    })
    .as_ref()
    .map(Arc::clone)
    .map_err(unavailable)
}

fn pick_adapter(instance: &wgpu::Instance) -> Result<wgpu::Adapter> {
    if let Ok(want) = std::env::var("WGPU_ADAPTER_NAME") {
        let want = want.to_lowercase();
        let all = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
        let names: Vec<String> = all.iter().map(|a| a.get_info().name).collect();
        return all
            .into_iter()
            .find(|a| a.get_info().name.to_lowercase().contains(&want))
            .ok_or_else(|| {
                unavailable(format!(
                    "WGPU_ADAPTER_NAME={want} matches none of {names:?}"
                ))
            });
    }
    let opts = wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::from_env().unwrap_or_default(),
        force_fallback_adapter: false,
        compatible_surface: None,
        ..Default::default()
    };
    match pollster::block_on(instance.request_adapter(&opts)) {
        Ok(a) => Ok(a),
        Err(e) => {
            let all = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
            all.into_iter()
                .next()
                .ok_or_else(|| unavailable(format!("no adapter: {e}")))
        }
    }
}

impl Gpu {
    fn open() -> Result<Gpu> {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY);
        let instance = wgpu::Instance::new(desc);
        let adapter = pick_adapter(&instance)?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let mut features = adapter.features() & wgpu::Features::SHADER_F16;
        // Testing aid: run the f16-less path on an adapter that has SHADER_F16.
        let f16_disabled = std::env::var(DISABLE_F16_ENV).is_ok_and(|v| v == "1");
        if f16_disabled {
            features.remove(wgpu::Features::SHADER_F16);
        }
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("spiraltorch"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| unavailable(format!("adapter {} refused a device: {e}", info.name)))?;
        let errors: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = Arc::clone(&errors);
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            sink.lock().push(e.to_string())
        }));
        let pool = BufferPool::new(device.clone());
        Ok(Gpu {
            device,
            queue,
            info,
            limits,
            features,
            f16_disabled,
            pool,
            pipelines: PipelineCache::default(),
            errors,
        })
    }

    /// Buffer pool counters.
    pub fn pool_stats(&self) -> PoolStats {
        self.pool.stats()
    }

    /// Pipeline cache counters.
    pub fn pipeline_stats(&self) -> PipelineStats {
        self.pipelines.stats()
    }

    /// Whether the device was opened with `SHADER_F16`.
    pub fn has_f16(&self) -> bool {
        self.features.contains(wgpu::Features::SHADER_F16)
    }

    /// Why f16 kernels cannot run here (`"adapter lacks SHADER_F16 (<name>)"`, or that
    /// [`DISABLE_F16_ENV`] turned it off), or `None` when the device has `SHADER_F16`. See
    /// Note [f16 kernels] in `kernels/shader.rs`.
    pub fn f16_unsupported(&self) -> Option<String> {
        if self.has_f16() {
            None
        } else if self.f16_disabled {
            Some(format!(
                "device opened without SHADER_F16 ({DISABLE_F16_ENV}=1; adapter {})",
                self.info.name
            ))
        } else {
            Some(format!("adapter lacks SHADER_F16 ({})", self.info.name))
        }
    }

    /// Fails with the first wgpu error reported since the last check.
    fn check(&self, what: &str) -> Result<()> {
        let mut errs = self.errors.lock();
        if errs.is_empty() {
            Ok(())
        } else {
            let all = errs.drain(..).collect::<Vec<_>>().join("; ");
            Err(backend_err(format!("{what}: {all}")))
        }
    }

    /// The pipeline for (`key`, `entry`), compiling `source()` on a miss.
    fn pipeline(
        &self,
        key: &str,
        entry: &'static str,
        source: &dyn Fn() -> String,
    ) -> Result<Arc<wgpu::ComputePipeline>> {
        if let Some(p) = self.pipelines.get(key, entry) {
            return Ok(p);
        }
        let src = source();
        if let Some(reason) = self.f16_unsupported() {
            // Every f16 launcher checks first (`kernels::require_f16`); this keeps a shader
            // that needs f16 from ever reaching a device without it.
            if src.contains("enable f16;") {
                return Err(crate::error::f16_unsupported(key, &reason));
            }
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(key),
                source: wgpu::ShaderSource::Wgsl(src.into()),
            });
        let p = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(key),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(backend_err(format!("compiling shader {key}: {e}")));
        }
        self.check(&format!("compiling shader {key}"))?;
        let p = Arc::new(p);
        self.pipelines.insert(key, entry, Arc::clone(&p));
        Ok(p)
    }

    /// A new output buffer of `bytes` bytes from the pool.
    pub fn alloc(&self, bytes: usize) -> WgpuBuffer {
        self.pool.alloc(bytes)
    }

    /// Records and submits one dispatch of `entry` in shader variant `key`: binding 0 is a
    /// read-only `array<u32>` holding `meta`, bindings 1.. are `buffers` in order.
    pub fn run(
        &self,
        key: &str,
        entry: &'static str,
        source: &dyn Fn() -> String,
        meta: &[u32],
        buffers: &[&wgpu::Buffer],
        groups: [u32; 3],
    ) -> Result<()> {
        if groups.contains(&0) {
            return Ok(());
        }
        let max = self.limits.max_compute_workgroups_per_dimension;
        if groups.iter().any(|&g| g > max) {
            return Err(backend_err(format!(
                "{key}: dispatch {groups:?} exceeds the adapter limit of {max} workgroups per dim"
            )));
        }
        let pipeline = self.pipeline(key, entry, source)?;
        let meta_buf = self.alloc(meta.len().max(1) * 4);
        let mut words = meta.to_vec();
        if words.is_empty() {
            words.push(0);
        }
        self.queue
            .write_buffer(meta_buf.raw(), 0, bytemuck::cast_slice(&words));
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let layout = pipeline.get_bind_group_layout(0);
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: meta_buf.raw().as_entire_binding(),
        }];
        for (i, b) in buffers.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: b.as_entire_binding(),
            });
        }
        let bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(key),
            layout: &layout,
            entries: &entries,
        });
        let mut enc = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(key),
                timestamp_writes: None,
            });
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        }
        self.queue.submit([enc.finish()]);
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(backend_err(format!("{key}: {e}")));
        }
        self.check(key)
    }

    /// Workgroup grid covering `threads` invocations of a 1-D kernel with [`WG`] threads per
    /// group, folded into two dims when it exceeds the per-dimension limit.
    pub fn grid_1d(&self, threads: u64) -> [u32; 3] {
        let groups = threads.div_ceil(WG as u64).max(1);
        let max = self.limits.max_compute_workgroups_per_dimension as u64;
        let x = groups.min(max);
        [x as u32, groups.div_ceil(x) as u32, 1]
    }

    /// Grid of one workgroup per item (`items` ≥ 1), folded like [`Gpu::grid_1d`].
    pub fn grid_items(&self, items: u64) -> [u32; 3] {
        let max = self.limits.max_compute_workgroups_per_dimension as u64;
        let x = items.clamp(1, max);
        [x as u32, items.div_ceil(x) as u32, 1]
    }

    fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| backend_err(format!("poll: {e}")))
    }
}

/// The registered backend: a handle on the process-wide [`Gpu`].
pub struct WgpuBackend {
    gpu: Arc<Gpu>,
}

/// Opens the backend (the `register_backend!` entry point).
///
/// # Errors
/// [`st_core::Error::BackendUnavailable`] when no adapter exists.
pub fn open() -> Result<Arc<dyn Backend>> {
    Ok(Arc::new(WgpuBackend { gpu: gpu()? }))
}

fn padded(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if bytes.len().is_multiple_of(4) {
        std::borrow::Cow::Borrowed(bytes)
    } else {
        let mut v = bytes.to_vec();
        v.resize(bytes.len().next_multiple_of(4), 0);
        std::borrow::Cow::Owned(v)
    }
}

impl Backend for WgpuBackend {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn device_count(&self) -> usize {
        1
    }

    fn upload(&self, ordinal: usize, _dtype: DType, bytes: &[u8]) -> Result<Storage> {
        if ordinal != 0 {
            return Err(unavailable(format!(
                "device {ordinal} does not exist (1 adapter)"
            )));
        }
        let buf = self.gpu.alloc(bytes.len());
        if !bytes.is_empty() {
            self.gpu.queue.write_buffer(buf.raw(), 0, &padded(bytes));
        }
        self.gpu.check("upload")?;
        Ok(Storage::new(buf))
    }

    fn download(
        &self,
        buffer: &dyn DeviceBuffer,
        dtype: DType,
        offset: usize,
        numel: usize,
    ) -> Result<Vec<u8>> {
        let src = WgpuBuffer::downcast(buffer, "download")?;
        let es = dtype.size_in_bytes() as u64;
        let (start, len) = (offset as u64 * es, numel as u64 * es);
        if len == 0 {
            return Ok(Vec::new());
        }
        let a0 = start & !3;
        let a1 = (start + len).next_multiple_of(4);
        if a1 > src.raw().size() {
            return Err(backend_err(format!(
                "download of bytes {start}..{} past the buffer's {} bytes",
                start + len,
                src.raw().size()
            )));
        }
        let staging = self.gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("st-download"),
            size: a1 - a0,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(src.raw(), a0, &staging, 0, a1 - a0);
        self.gpu.queue.submit([enc.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            // The receiver outlives the poll below; a send error cannot happen.
            let _ = tx.send(r);
        });
        self.gpu.wait()?;
        match rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(backend_err(format!("map_async: {e}"))),
            Err(e) => return Err(backend_err(format!("map_async callback lost: {e}"))),
        }
        let out = {
            let view = staging
                .slice(..)
                .get_mapped_range()
                .map_err(|e| backend_err(format!("get_mapped_range: {e}")))?;
            let s = (start - a0) as usize;
            view[s..s + len as usize].to_vec()
        };
        staging.unmap();
        self.gpu.check("download")?;
        Ok(out)
    }

    fn sync(&self, _ordinal: usize) -> Result<()> {
        self.gpu.wait()?;
        self.gpu.check("sync")
    }

    fn dtype_unsupported(&self, _ordinal: usize, dtype: DType) -> Option<String> {
        match dtype {
            DType::F16 => self.gpu.f16_unsupported(),
            _ => None,
        }
    }

    fn describe(&self, _ordinal: usize) -> String {
        let g = &self.gpu;
        format!(
            "{} ({:?}, {:?}, driver {} {}); max buffer {} B, max storage binding {} B, \
             workgroup storage {} B, f16 {}",
            g.info.name,
            g.info.backend,
            g.info.device_type,
            g.info.driver,
            g.info.driver_info,
            g.limits.max_buffer_size,
            g.limits.max_storage_buffer_binding_size,
            g.limits.max_compute_workgroup_storage_size,
            g.has_f16()
        )
    }
}

st_core::register_backend!("wgpu", open);

/// Reads `numel` elements of `dtype` from element `offset` of a WGPU buffer back to the host
/// (used by kernels that must validate device data, such as index ranges).
///
/// # Errors
/// Backend errors, or an internal error for a buffer of another backend.
pub fn read_back(
    buffer: &dyn DeviceBuffer,
    dtype: DType,
    offset: usize,
    numel: usize,
) -> Result<Vec<u8>> {
    WgpuBackend { gpu: gpu()? }.download(buffer, dtype, offset, numel)
}
