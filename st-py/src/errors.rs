//! Maps [`st_core::Error`] to typed Python exceptions, keeping the Rust message intact.
//!
//! ValueError for shapes and bad arguments, TypeError for dtypes, IndexError for indices,
//! RuntimeError for autograd, devices and backends, NotImplementedError for a missing kernel,
//! MemoryError for an allocation failure, OSError for I/O.

use pyo3::exceptions::{
    PyIndexError, PyMemoryError, PyNotImplementedError, PyOSError, PyRuntimeError, PyTypeError,
    PyValueError,
};
use pyo3::PyErr;
use st_core::Error;

/// The Python exception for an st-core error.
pub fn to_py(e: Error) -> PyErr {
    let msg = e.to_string();
    match e {
        Error::ShapeMismatch { .. }
        | Error::InvalidShape { .. }
        | Error::ElementCount { .. }
        | Error::InvalidArgument { .. }
        | Error::StateDict(_) => PyValueError::new_err(msg),
        Error::DTypeMismatch { .. } | Error::ReadBackDType { .. } => PyTypeError::new_err(msg),
        Error::DimOutOfRange { .. } | Error::IndexOutOfRange { .. } => PyIndexError::new_err(msg),
        Error::KernelNotFound { .. } => PyNotImplementedError::new_err(msg),
        Error::OutOfMemory { .. } => PyMemoryError::new_err(msg),
        Error::Io { .. } => PyOSError::new_err(msg),
        // Autograd, devices, backends, the registry, plugins and internal errors; and any
        // variant added later (the enum is non-exhaustive).
        _ => PyRuntimeError::new_err(msg),
    }
}

/// `?`-friendly conversion of st-core results.
pub trait IntoPyResult<T> {
    /// The result with the error mapped by [`to_py`].
    fn py(self) -> pyo3::PyResult<T>;
}

impl<T> IntoPyResult<T> for st_core::Result<T> {
    #[inline]
    fn py(self) -> pyo3::PyResult<T> {
        self.map_err(to_py)
    }
}

/// A ValueError naming `op`.
pub fn value_error(op: &str, msg: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{op}: {msg}"))
}

/// A TypeError naming `op`.
pub fn type_error(op: &str, msg: impl std::fmt::Display) -> PyErr {
    PyTypeError::new_err(format!("{op}: {msg}"))
}

/// An IndexError naming `op`.
pub fn index_error(op: &str, msg: impl std::fmt::Display) -> PyErr {
    PyIndexError::new_err(format!("{op}: {msg}"))
}

/// A RuntimeError naming `op`.
pub fn runtime_error(op: &str, msg: impl std::fmt::Display) -> PyErr {
    PyRuntimeError::new_err(format!("{op}: {msg}"))
}
