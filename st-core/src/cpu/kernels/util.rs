//! Shared helpers for CPU kernels: typed input access and parallel elementwise maps.

use crate::alloc::try_vec_with_capacity;
use crate::backend::Storage;
use crate::cpu::CpuBuffer;
use crate::dispatch::{KernelInput, KernelOut};
use crate::dtype::Element;
use crate::error::Result;
use crate::layout::Layout;
use rayon::prelude::*;

/// Element count above which elementwise kernels split work across rayon threads. Below it the
/// ≈ 8 µs fork/join cost outweighs the gain.
pub const PAR_THRESHOLD: usize = 1 << 16;
/// Elements per parallel task.
pub const PAR_CHUNK: usize = 1 << 14;

/// The widest x86 vector extension a multi-versioned CPU loop may use here.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimdLevel {
    /// AVX-512F with FMA.
    Avx512,
    /// AVX2 with FMA.
    Avx2,
    /// SSE2 only (the x86-64 baseline).
    Baseline,
}

/// Detects [`SimdLevel`] once per process.
#[cfg(target_arch = "x86_64")]
pub fn simd_level() -> SimdLevel {
    use std::sync::OnceLock;
    static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let fma = std::arch::is_x86_feature_detected!("fma");
        if fma && std::arch::is_x86_feature_detected!("avx512f") {
            SimdLevel::Avx512
        } else if fma && std::arch::is_x86_feature_detected!("avx2") {
            SimdLevel::Avx2
        } else {
            SimdLevel::Baseline
        }
    })
}

/// The whole buffer of an input as `T`.
#[inline]
pub fn buf<'a, T: Element>(inp: &KernelInput<'a>) -> Result<&'a [T]> {
    CpuBuffer::downcast(inp.buffer()?)?.as_slice::<T>()
}

/// The input's elements as one slice when its layout is contiguous.
#[inline]
pub fn contiguous<'a, T: Element>(inp: &KernelInput<'a>) -> Result<Option<&'a [T]>> {
    let data = buf::<T>(inp)?;
    Ok(inp
        .layout
        .contiguous_offset()
        .map(|off| &data[off..off + inp.layout.numel()]))
}

/// Gathers a strided view into a new row-major vector.
///
/// # Errors
/// [`crate::Error::OutOfMemory`] when the copy cannot be allocated (an expanded view can
/// address far more elements than its buffer holds).
pub fn gather_strided<T: Element>(data: &[T], layout: &Layout) -> Result<Vec<T>> {
    let mut v = try_vec_with_capacity(layout.numel())?;
    match layout.contiguous_offset() {
        Some(off) => v.extend_from_slice(&data[off..off + layout.numel()]),
        None => v.extend(layout.offsets().map(|o| data[o])),
    }
    Ok(v)
}

/// Input elements in row-major order: borrowed when contiguous, gathered otherwise.
pub fn elems<'a, T: Element>(inp: &KernelInput<'a>) -> Result<std::borrow::Cow<'a, [T]>> {
    let data = buf::<T>(inp)?;
    Ok(match inp.layout.contiguous_offset() {
        Some(off) => std::borrow::Cow::Borrowed(&data[off..off + inp.layout.numel()]),
        None => std::borrow::Cow::Owned(gather_strided(data, inp.layout)?),
    })
}

/// Where a CPU kernel writes its result: a new buffer, or a given view (the kernel's
/// output-buffer form, see [`KernelIntoFn`](crate::dispatch::KernelIntoFn)).
pub enum Dest<'o, 'a> {
    /// A new contiguous buffer, returned as the kernel's storage.
    New,
    /// The view the in-place or `out=` op writes.
    Into(&'o mut KernelOut<'a>),
}

/// What a kernel written against [`Dest`] returns: the new storage for [`Dest::New`], nothing
/// for [`Dest::Into`].
pub type Written = Option<Storage>;

/// The storage of a kernel run with [`Dest::New`].
///
/// # Errors
/// [`crate::Error::Internal`] when the kernel wrote into a view instead (a bug).
pub fn new_output(w: Written) -> Result<Storage> {
    w.ok_or_else(|| crate::Error::Internal("kernel returned no storage for a new output".into()))
}

/// `out = f(x)` elementwise over one input of any layout.
pub fn map1<T: Element, U: Element>(
    dest: &mut Dest<'_, '_>,
    x: &KernelInput<'_>,
    f: impl Fn(T) -> U + Sync + Send,
) -> Result<Written> {
    if let Dest::Into(out) = dest {
        return super::into::map1_into(x, out, f).map(|()| None);
    }
    let n = x.layout.numel();
    let mut out = CpuBuffer::for_output(U::DTYPE, n)?;
    let o = out.as_mut_slice::<U>()?;
    match contiguous::<T>(x)? {
        Some(a) => {
            if n >= PAR_THRESHOLD {
                o.par_chunks_mut(PAR_CHUNK)
                    .zip(a.par_chunks(PAR_CHUNK))
                    .for_each(|(o, a)| {
                        for (o, &a) in o.iter_mut().zip(a) {
                            *o = f(a);
                        }
                    });
            } else {
                for (o, &a) in o.iter_mut().zip(a) {
                    *o = f(a);
                }
            }
        }
        None => {
            let data = buf::<T>(x)?;
            for (o, off) in o.iter_mut().zip(x.layout.offsets()) {
                *o = f(data[off]);
            }
        }
    }
    Ok(Some(out.into_storage()))
}

/// `out = f(a, b)` elementwise over two inputs already broadcast to one shape.
pub fn map2<T: Element, U: Element>(
    dest: &mut Dest<'_, '_>,
    a: &KernelInput<'_>,
    b: &KernelInput<'_>,
    f: impl Fn(T, T) -> U + Sync + Send,
) -> Result<Written> {
    if let Dest::Into(out) = dest {
        return super::into::map2_into(a, b, out, f).map(|()| None);
    }
    let n = a.layout.numel();
    let mut out = CpuBuffer::for_output(U::DTYPE, n)?;
    let o = out.as_mut_slice::<U>()?;
    match (contiguous::<T>(a)?, contiguous::<T>(b)?) {
        (Some(x), Some(y)) => {
            if n >= PAR_THRESHOLD {
                o.par_chunks_mut(PAR_CHUNK)
                    .zip(x.par_chunks(PAR_CHUNK).zip(y.par_chunks(PAR_CHUNK)))
                    .for_each(|(o, (x, y))| {
                        for ((o, &x), &y) in o.iter_mut().zip(x).zip(y) {
                            *o = f(x, y);
                        }
                    });
            } else {
                for ((o, &x), &y) in o.iter_mut().zip(x).zip(y) {
                    *o = f(x, y);
                }
            }
        }
        _ => {
            let (da, db) = (buf::<T>(a)?, buf::<T>(b)?);
            // Scalar broadcast on one side is common (x * 2): keep it fast.
            if let (Some(x), true) = (
                contiguous::<T>(a)?,
                b.layout.strides().iter().all(|&s| s == 0),
            ) {
                let y = db[b.layout.offset()];
                for (o, &x) in o.iter_mut().zip(x) {
                    *o = f(x, y);
                }
            } else {
                for ((o, oa), ob) in o.iter_mut().zip(a.layout.offsets()).zip(b.layout.offsets()) {
                    *o = f(da[oa], db[ob]);
                }
            }
        }
    }
    Ok(Some(out.into_storage()))
}
