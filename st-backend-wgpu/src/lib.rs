//! # st-backend-wgpu
//!
//! The WGPU backend of SpiralTorch: tensors live in wgpu storage buffers (from a size-bucketed
//! pool) and every op runs as a WGSL compute kernel registered into st-core's kernel registry
//! with `register_kernel!` — no change to st-core's dispatch. Only `to_vec` / `to(cpu)` read
//! back. Opening fails with `BackendUnavailable` (never a panic) when no adapter exists.
//!
//! f16 tensors compute in WGSL `f16` kernels, which need the adapter feature `SHADER_F16`;
//! without it every f16 kernel fails with a backend error saying so (never an f32 fallback).
//! Environment: `WGPU_BACKEND`, `WGPU_ADAPTER_NAME` pick the adapter;
//! `ST_WGPU_DISABLE_F16=1` opens it without `SHADER_F16` (to test that path).
//!
//! ```no_run
//! use st_core::{Device, DType, Tensor};
//! let dev = st_backend_wgpu::device(0)?; // also links the kernels (see `link`)
//! let x = Tensor::randn([4, 4], DType::F32, &Device::cpu())?.to(&dev)?;
//! let y = x.matmul(&x)?.relu()?;
//! println!("{:?}", y.to_vec::<f32>()?);
//! # Ok::<(), st_core::Error>(())
//! ```

#![warn(missing_docs)]

mod buffer;
pub mod custom;
mod device;
mod error;
mod kernels;
mod pipeline_cache;
mod plugin;

pub use buffer::PoolStats;
pub use device::{WgpuBackend, DISABLE_F16_ENV};
pub use pipeline_cache::PipelineStats;
pub use plugin::WgpuBackendPlugin;

/// Call (or `use st_backend_wgpu as _;`) from a binary so the linker keeps this crate's
/// kernel, backend and plugin registrations.
pub fn link() {}

/// WGPU adapter `ordinal` as an st-core [`Device`](st_core::Device): `Device::new("wgpu",
/// ordinal)`. Calling it references this crate, so the linker keeps its registrations.
///
/// # Errors
/// `BackendUnavailable` when no adapter opens or there are fewer adapters than `ordinal + 1`.
pub fn device(ordinal: usize) -> st_core::Result<st_core::Device> {
    st_core::Device::new("wgpu", ordinal)
}

/// Buffer pool counters of the opened device.
///
/// # Errors
/// `BackendUnavailable` when no adapter exists.
pub fn pool_stats() -> st_core::Result<PoolStats> {
    Ok(device::gpu()?.pool_stats())
}

/// Frees the device memory of every cached (unused) buffer in the pool, as PyTorch's
/// `torch.cuda.empty_cache()`; buffers held by tensors are untouched.
///
/// # Errors
/// `BackendUnavailable` when no adapter exists.
pub fn empty_cache() -> st_core::Result<()> {
    device::gpu()?.pool.trim();
    Ok(())
}

/// Pipeline cache counters of the opened device (compiled shaders, hits, misses).
///
/// # Errors
/// `BackendUnavailable` when no adapter exists.
pub fn pipeline_stats() -> st_core::Result<PipelineStats> {
    Ok(device::gpu()?.pipeline_stats())
}

/// Whether the opened device runs f16 kernels (the adapter has `SHADER_F16` and
/// [`DISABLE_F16_ENV`] is not set).
///
/// # Errors
/// `BackendUnavailable` when no adapter exists.
pub fn has_f16() -> st_core::Result<bool> {
    Ok(device::gpu()?.has_f16())
}

/// Whether a WGPU adapter can be opened on this machine.
pub fn is_available() -> bool {
    device::gpu().is_ok()
}
