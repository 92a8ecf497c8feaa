//! Read-only tensors over memory-mapped files ([`MappedFile`], [`Tensor::from_mmap`]): the
//! zero-copy loading path that safetensors files use.

use super::Tensor;
use crate::cpu::{CpuBuffer, MemoryAccess};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::shape::Shape;
use std::fs::File;
use std::sync::Arc;

/// A whole file mapped read-only into memory, shared by every tensor cut from it: the mapping
/// is unmapped when the last of them (and this handle) is gone.
///
/// Note [Mapping files is unsafe]: a mapped file's bytes can change under the process when
/// another process (or this one, through another handle) writes the file, and truncating it
/// makes reads fault (`SIGBUS`). Rust slices over such memory would break their promise of
/// immutable data, so [`MappedFile::new`] is `unsafe`, as memmap2's `map` and candle's
/// `MmapedSafetensors::new` are: the caller promises the file is left alone while mapped.
/// Once mapped, cutting tensors out of it is safe. Writes from SpiralTorch are impossible: the
/// mapping is read-only and every in-place op on such a tensor is an error that leaves the file
/// unchanged.
pub struct MappedFile {
    map: memmap2::Mmap,
}

impl MappedFile {
    /// Maps `file` (opened for reading) read-only.
    ///
    /// # Safety
    /// See Note [Mapping files is unsafe]: the file must not be written or truncated, by this
    /// or any other process, while the mapping (this handle or any tensor cut from it) lives.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be mapped.
    pub unsafe fn new(file: &File) -> Result<Arc<MappedFile>> {
        // SAFETY: the caller promises what memmap2 requires (see Note [Mapping files is
        // unsafe]); the mapping is read-only.
        let map = unsafe { memmap2::Mmap::map(file) }
            .map_err(|e| Error::io("from_mmap: mapping the file", e))?;
        Ok(Arc::new(MappedFile { map }))
    }

    /// Size of the mapped file in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// A read-only contiguous tensor of `dtype` with `shape` whose elements start `offset`
    /// bytes into the file; no copy is made, and the tensor keeps the mapping alive.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the elements would reach past the end of the file,
    /// or when `offset` leaves them misaligned for `dtype` (the mapping starts on a page
    /// boundary, so `offset` must be a multiple of the element size; read misaligned data
    /// with [`Tensor::from_bytes`], which copies), or for a bool byte other than 0 or 1
    /// (bool regions are read once to check); shape errors.
    pub fn tensor(
        self: &Arc<Self>,
        offset: usize,
        dtype: DType,
        shape: impl Into<Shape>,
    ) -> Result<Tensor> {
        let shape = shape.into();
        let numel = shape.valid_numel("from_mmap")?;
        let es = dtype.size_in_bytes();
        let end = numel
            .checked_mul(es)
            .and_then(|b| b.checked_add(offset))
            .filter(|&end| end <= self.len())
            .ok_or_else(|| {
                Error::invalid(
                    "from_mmap",
                    format!(
                        "{numel} {dtype} elements (shape {shape}) at byte offset {offset} reach \
                         past the end of a {}-byte file",
                        self.len()
                    ),
                )
            })?;
        if !offset.is_multiple_of(es) {
            return Err(Error::invalid(
                "from_mmap",
                format!(
                    "byte offset {offset} is not a multiple of the {es}-byte {dtype} element, so \
                     the elements would be misaligned in memory; use Tensor::from_bytes (copies)"
                ),
            ));
        }
        let region = &self.map[offset..end];
        super::external::check_bools("from_mmap", dtype, region)?;
        let owner: Arc<dyn std::any::Any + Send + Sync> = self.clone();
        // SAFETY: `region` lies inside the mapping, which stays mapped (and, by `new`'s
        // contract, unchanged) while `owner` holds it; it is wrapped read-only, so nothing
        // writes it.
        let buffer = unsafe {
            CpuBuffer::from_external(
                region.as_ptr().cast_mut(),
                numel,
                dtype,
                owner,
                MemoryAccess::ReadOnly,
            )?
        };
        Ok(Tensor::wrap(
            buffer.into_storage(),
            Layout::contiguous(shape),
            dtype,
            Device::cpu(),
        ))
    }
}

impl Tensor {
    /// A read-only CPU tensor over part of a file, without reading it: `file` is mapped into
    /// memory and the tensor's elements (`dtype`, row-major `shape`) start `offset` bytes in.
    /// The mapping lives as long as the tensor and its views. In-place ops on it are errors
    /// (see [`MappedFile`]); `.copy()` gives a writable tensor. To cut several tensors from
    /// one file (safetensors), map it once with [`MappedFile::new`].
    ///
    /// ```
    /// use st_core::{DType, Tensor};
    /// use std::io::Write;
    /// let path = std::env::temp_dir().join(format!("st_doc_mmap_{}", std::process::id()));
    /// let bytes: Vec<u8> = [1.0f32, 2.0, 3.0].iter().flat_map(|x| x.to_ne_bytes()).collect();
    /// let io = |e| st_core::Error::io("doc", e);
    /// std::fs::File::create(&path).and_then(|mut f| f.write_all(&bytes)).map_err(io)?;
    /// let file = std::fs::File::open(&path).map_err(io)?;
    /// // SAFETY: nothing writes or truncates the file while the tensor lives.
    /// let t = unsafe { Tensor::from_mmap(&file, 4, DType::F32, [2])? };
    /// assert_eq!(t.to_vec::<f32>()?, [2.0, 3.0]);
    /// assert!(t.add_scalar_(1.0).is_err()); // read-only
    /// # drop(t); let _ = std::fs::remove_file(&path);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    ///
    /// # Safety
    /// As [`MappedFile::new`]: the file must not be written or truncated while the tensor
    /// lives.
    ///
    /// # Errors
    /// As [`MappedFile::new`] and [`MappedFile::tensor`].
    pub unsafe fn from_mmap(
        file: &File,
        offset: usize,
        dtype: DType,
        shape: impl Into<Shape>,
    ) -> Result<Tensor> {
        // SAFETY: the caller's contract is `MappedFile::new`'s.
        unsafe { MappedFile::new(file)? }.tensor(offset, dtype, shape)
    }
}
