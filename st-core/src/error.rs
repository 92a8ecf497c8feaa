//! The one error type of SpiralTorch: every public operation returns [`Result`].
//!
//! Variants are structured and always name the operation, so a message reads like
//! `add: shapes [2, 3] and [4] cannot be broadcast (dtypes f32, f32, backend cpu)`.

use crate::dtype::DType;
use crate::shape::Shape;

/// Result alias used across SpiralTorch.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every error SpiralTorch reports.
#[non_exhaustive]
#[derive(thiserror::Error, Debug)]
pub enum Error {
    /// Two shapes that must agree (or broadcast) do not.
    #[error("{op}: shapes {lhs} and {rhs} are incompatible{detail}")]
    ShapeMismatch {
        /// Operation name.
        op: &'static str,
        /// First shape.
        lhs: Box<Shape>,
        /// Second shape.
        rhs: Box<Shape>,
        /// Extra context (dtypes, backend, reason), may be empty.
        detail: String,
    },
    /// A shape is invalid for the operation (wrong rank, wrong element count, ...).
    #[error("{op}: invalid shape {shape}: {reason}")]
    InvalidShape {
        /// Operation name.
        op: &'static str,
        /// Offending shape.
        shape: Box<Shape>,
        /// Why it is invalid.
        reason: String,
    },
    /// The dtype of an input is not accepted, or two dtypes disagree.
    #[error("{op}: unsupported dtype combination {got:?}: {reason}")]
    DTypeMismatch {
        /// Operation name.
        op: &'static str,
        /// Dtypes seen.
        got: Vec<DType>,
        /// What was expected.
        reason: String,
    },
    /// Inputs live on different devices; SpiralTorch never transfers implicitly.
    #[error(
        "{op}: inputs are on different devices {devices:?}; move them with .to(&device) first"
    )]
    DeviceMismatch {
        /// Operation name.
        op: &'static str,
        /// Devices seen, one per input.
        devices: Vec<String>,
    },
    /// No kernel is registered for the (op, backend, dtype) key.
    #[error(
        "{op}: no kernel for backend {backend} and dtype {dtype} (available for this op: {available})"
    )]
    KernelNotFound {
        /// Operation name.
        op: &'static str,
        /// Backend name.
        backend: String,
        /// Dispatch dtype.
        dtype: DType,
        /// The (backend, dtypes) pairs that do exist, formatted.
        available: String,
    },
    /// A dimension index is outside `[-rank, rank)`.
    #[error("{op}: dimension {dim} out of range for a tensor of rank {rank}")]
    DimOutOfRange {
        /// Operation name.
        op: &'static str,
        /// The dimension as given.
        dim: isize,
        /// Rank of the tensor.
        rank: usize,
    },
    /// An index value is outside the valid range.
    #[error("{op}: index {index} out of range for dimension of size {size}")]
    IndexOutOfRange {
        /// Operation name.
        op: &'static str,
        /// The index.
        index: i64,
        /// Size of the indexed dimension.
        size: usize,
    },
    /// An argument other than a shape, dim or dtype is invalid.
    #[error("{op}: {reason}")]
    InvalidArgument {
        /// Operation name.
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Data length does not match the requested shape.
    #[error("{op}: {len} elements cannot fill shape {shape}")]
    ElementCount {
        /// Operation name.
        op: &'static str,
        /// Elements supplied.
        len: usize,
        /// Shape requested.
        shape: Box<Shape>,
    },
    /// A typed read-back asked for the wrong element type.
    #[error("{op}: tensor has dtype {actual}, requested {requested}")]
    ReadBackDType {
        /// Operation name.
        op: &'static str,
        /// dtype of the tensor.
        actual: DType,
        /// dtype requested by the caller.
        requested: DType,
    },
    /// Autograd was used incorrectly (no grad_fn, graph freed, non-scalar without seed, ...).
    #[error("autograd: {0}")]
    Autograd(String),
    /// A device allocation failed.
    #[error("{backend}: out of memory allocating {bytes} bytes")]
    OutOfMemory {
        /// Backend name.
        backend: String,
        /// Bytes requested.
        bytes: usize,
    },
    /// A backend is not available on this machine (no adapter, no driver).
    #[error("backend {backend} unavailable: {reason}")]
    BackendUnavailable {
        /// Backend name.
        backend: String,
        /// Why.
        reason: String,
    },
    /// An error raised inside a backend.
    #[error("{backend}: {source}")]
    Backend {
        /// Backend name.
        backend: String,
        /// The backend's own error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The kernel registry is inconsistent (duplicate registration, unknown backend).
    #[error("kernel registry: {0}")]
    Registry(String),
    /// A plugin failed (load, dependency, version, panic, ABI).
    #[error("plugin {plugin}: {reason}")]
    Plugin {
        /// Plugin id.
        plugin: String,
        /// What went wrong.
        reason: String,
    },
    /// I/O failure (files, libraries, traces).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A state dict that does not fit a module or optimizer (`load_state_dict`): the keys it
    /// lacks, the keys it has too many of, and the keys whose shapes differ.
    #[error("load_state_dict: {0}")]
    StateDict(Box<StateDictMismatch>),
    /// A state that should be impossible; reaching it is a bug in SpiralTorch.
    #[error("internal error (please report): {0}")]
    Internal(String),
}

/// What does not fit in a state dict ([`Error::StateDict`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateDictMismatch {
    /// Keys of the module that the state dict lacks.
    pub missing: Vec<String>,
    /// Keys of the state dict that the module lacks.
    pub unexpected: Vec<String>,
    /// `name: checkpoint [..], model [..]` for each key whose shapes differ.
    pub mismatched: Vec<String>,
}

impl std::fmt::Display for StateDictMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for (what, keys) in [
            ("missing keys", &self.missing),
            ("unexpected keys", &self.unexpected),
            ("size mismatch", &self.mismatched),
        ] {
            if !keys.is_empty() {
                write!(
                    f,
                    "{}{what}: {}",
                    if first { "" } else { "; " },
                    keys.join(", ")
                )?;
                first = false;
            }
        }
        Ok(())
    }
}

impl Error {
    /// Wraps a backend-specific error.
    pub fn backend(
        backend: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Backend {
            backend: backend.into(),
            source: source.into(),
        }
    }

    /// An [`Error::InvalidArgument`] for `op`.
    /// [`Error::StateDict`] of the three key lists.
    pub fn state_dict(
        missing: Vec<String>,
        unexpected: Vec<String>,
        mismatched: Vec<String>,
    ) -> Self {
        Error::StateDict(Box::new(StateDictMismatch {
            missing,
            unexpected,
            mismatched,
        }))
    }

    /// [`Error::InvalidArgument`] naming `op`.
    pub fn invalid(op: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            op,
            reason: reason.into(),
        }
    }

    /// The reason text for re-reporting this error as [`Error::BackendUnavailable`]: the inner
    /// reason when it already is one (so messages do not repeat "backend X unavailable"),
    /// otherwise the whole message.
    pub fn into_unavailable_reason(self) -> String {
        match self {
            Error::BackendUnavailable { reason, .. } => reason,
            e => e.to_string(),
        }
    }

    /// An [`Error::Io`] with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_reasons_do_not_nest() {
        let inner = Error::BackendUnavailable {
            backend: "wgpu".into(),
            reason: "no adapter".into(),
        };
        assert_eq!(inner.into_unavailable_reason(), "no adapter");
        let other = Error::invalid("open", "bad flag");
        assert_eq!(other.into_unavailable_reason(), "open: bad flag");
    }

    #[test]
    fn error_stays_small() {
        // Every `Result` carries an `Error`'s size; shapes are boxed so that a `Result<Tensor>`
        // moves in registers and inline copies rather than `memcpy` calls.
        assert!(
            std::mem::size_of::<Error>() <= 72,
            "Error is {} bytes",
            std::mem::size_of::<Error>()
        );
    }
}
