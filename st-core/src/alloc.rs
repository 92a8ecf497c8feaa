//! Fallible host allocation: a request the allocator refuses is an [`Error::OutOfMemory`]
//! naming the bytes asked for, never the process abort of `Vec`'s infallible growth.

use crate::error::{Error, Result};

/// An empty vector with room for `n` elements.
///
/// # Errors
/// [`Error::OutOfMemory`] when the memory cannot be had (or its size overflows).
pub fn try_vec_with_capacity<T>(n: usize) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| out_of_memory(n, std::mem::size_of::<T>()))?;
    Ok(v)
}

/// A vector of `n` copies of `value`, allocated fallibly.
///
/// # Errors
/// As [`try_vec_with_capacity`].
pub fn try_vec_filled<T: Clone>(n: usize, value: T) -> Result<Vec<T>> {
    let mut v = try_vec_with_capacity(n)?;
    v.resize(n, value);
    Ok(v)
}

/// A vector of `f(0), f(1), ..., f(n - 1)`, allocated fallibly.
///
/// # Errors
/// As [`try_vec_with_capacity`].
pub fn try_vec_from_fn<T>(n: usize, f: impl FnMut(usize) -> T) -> Result<Vec<T>> {
    let mut v = try_vec_with_capacity(n)?;
    v.extend((0..n).map(f));
    Ok(v)
}

/// The error for `n` elements of `size` bytes that could not be allocated.
#[cold]
pub fn out_of_memory(n: usize, size: usize) -> Error {
    Error::OutOfMemory {
        backend: "cpu".into(),
        bytes: n.saturating_mul(size),
    }
}
