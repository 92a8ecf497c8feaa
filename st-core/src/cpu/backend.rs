//! [`CpuBackend`]: the host implementation of [`Backend`].

use super::buffer::CpuBuffer;
use crate::backend::{Backend, DeviceBuffer, Storage};
use crate::dtype::DType;
use crate::error::{Error, Result};
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

    fn alloc(&self, _ordinal: usize, dtype: DType, numel: usize) -> Result<Storage> {
        Ok(CpuBuffer::for_output(dtype, numel)?.into_storage())
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
        let range = offset
            .checked_add(numel)
            .and_then(|end| Some((offset.checked_mul(es)?, end.checked_mul(es)?)));
        match range {
            Some((start, end)) if end <= bytes.len() => Ok(bytes[start..end].to_vec()),
            _ => Err(Error::invalid(
                "download",
                format!(
                    "{numel} {dtype} elements at element {offset} lie outside a buffer of {} \
                     bytes",
                    bytes.len()
                ),
            )),
        }
    }

    fn sync(&self, _ordinal: usize) -> Result<()> {
        Ok(())
    }

    fn describe(&self, _ordinal: usize) -> String {
        format!("cpu ({} threads)", rayon::current_num_threads())
    }
}
