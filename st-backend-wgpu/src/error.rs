//! Conversions from wgpu failures to [`st_core::Error`] variants naming the backend.

use st_core::Error;

/// Backend name used in every error and registration.
pub const BACKEND: &str = "wgpu";

/// A backend error carrying the wgpu message.
pub fn backend_err(message: impl std::fmt::Display) -> Error {
    Error::backend(BACKEND, message.to_string())
}

/// The backend could not be opened (no adapter, device request refused).
pub fn unavailable(reason: impl std::fmt::Display) -> Error {
    Error::BackendUnavailable {
        backend: BACKEND.to_string(),
        reason: reason.to_string(),
    }
}

/// An input buffer that is not a WGPU buffer reached a WGPU kernel.
pub fn foreign_buffer(op: &'static str) -> Error {
    Error::Internal(format!(
        "{op}: input buffer does not belong to the wgpu backend"
    ))
}

/// A shape or size the WGSL kernels cannot address (element offsets are 32-bit).
pub fn too_large(op: &'static str, what: impl std::fmt::Display) -> Error {
    Error::invalid(
        op,
        format!("wgpu kernels address at most 2^32 - 1 elements: {what}"),
    )
}

/// An f16 kernel was called on a device opened without `wgpu::Features::SHADER_F16`; `reason`
/// is [`crate::Gpu::f16_unsupported`] (which the conformance suite matches). The kernel never
/// falls back to f32 math.
pub fn f16_unsupported(op: &str, reason: &str) -> Error {
    backend_err(format!(
        "{op}: dtype f16 cannot run: {reason}; the f16 kernels need WGSL `enable f16;` and \
         never fall back to f32"
    ))
}
