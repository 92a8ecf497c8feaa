//! [`CpuBackend`]: the host implementation of [`Backend`].

use super::buffer::CpuBuffer;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::storage::{Backend, DeviceBuffer, Storage};
use std::sync::Arc;

/// The host CPU backend.
pub struct CpuBackend;

fn open() -> Result<Arc<dyn Backend>> {
    Ok(Arc::new(CpuBackend))
}

crate::register_backend!("cpu", open);

impl Backend for CpuBackend {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn device_count(&self) -> usize {
        1
    }

    fn upload(&self, _ordinal: usize, dtype: DType, bytes: &[u8]) -> Result<Storage> {
        Ok(CpuBuffer::from_bytes(dtype, bytes)?.into_storage())
    }

    fn download(
        &self,
        buffer: &dyn DeviceBuffer,
        dtype: DType,
        offset: usize,
        numel: usize,
    ) -> Result<Vec<u8>> {
        let b = CpuBuffer::downcast(buffer)?;
        let es = dtype.size_in_bytes();
        let bytes = b.bytes();
        let (start, end) = (offset * es, (offset + numel) * es);
        if end > bytes.len() {
            return Err(Error::Internal(format!(
                "download of {numel} elements at {offset} past a buffer of {} elements",
                b.len()
            )));
        }
        Ok(bytes[start..end].to_vec())
    }

    fn sync(&self, _ordinal: usize) -> Result<()> {
        Ok(())
    }

    fn describe(&self, _ordinal: usize) -> String {
        format!("cpu ({} threads)", rayon::current_num_threads())
    }
}
