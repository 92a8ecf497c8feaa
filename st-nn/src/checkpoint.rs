//! Saving and loading named tensors as safetensors files, the format PyTorch, candle and
//! Hugging Face share: `save(path, &model.state_dict(), &meta)` and back.
//!
//! Files are written to a temporary name and renamed, so a crash mid-write never leaves a
//! truncated checkpoint under the real name.

use crate::module::StateDict;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use st_core::{DType, Device, Error, Result, Tensor};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

fn to_safetensors(dt: DType) -> Dtype {
    match dt {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
        DType::F16 => Dtype::F16,
        DType::BF16 => Dtype::BF16,
        DType::I32 => Dtype::I32,
        DType::I64 => Dtype::I64,
        DType::U8 => Dtype::U8,
        DType::Bool => Dtype::BOOL,
    }
}

fn from_safetensors(name: &str, dt: Dtype) -> Result<DType> {
    Ok(match dt {
        Dtype::F32 => DType::F32,
        Dtype::F64 => DType::F64,
        Dtype::F16 => DType::F16,
        Dtype::BF16 => DType::BF16,
        Dtype::I32 => DType::I32,
        Dtype::I64 => DType::I64,
        Dtype::U8 => DType::U8,
        Dtype::BOOL => DType::Bool,
        other => {
            return Err(Error::invalid(
                "checkpoint::load",
                format!("tensor {name}: safetensors dtype {other:?} has no SpiralTorch dtype"),
            ))
        }
    })
}

fn format_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::invalid("checkpoint", format!("{}: {e}", path.display()))
}

/// The safetensors bytes of `tensors` with string `metadata` in the header.
///
/// # Errors
/// Errors reading tensors back from their device.
pub fn to_bytes(tensors: &StateDict, metadata: &BTreeMap<String, String>) -> Result<Vec<u8>> {
    let data: Vec<(String, DType, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, t)| Ok((n.to_string(), t.dtype(), t.dims().to_vec(), t.to_bytes()?)))
        .collect::<Result<_>>()?;
    let views: Vec<(String, TensorView<'_>)> = data
        .iter()
        .map(|(n, dt, shape, bytes)| {
            TensorView::new(to_safetensors(*dt), shape.clone(), bytes)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::Internal(format!("safetensors view of {n}: {e}")))
        })
        .collect::<Result<_>>()?;
    let meta: HashMap<String, String> = metadata.clone().into_iter().collect();
    safetensors::serialize(views, Some(meta))
        .map_err(|e| Error::Internal(format!("safetensors serialisation: {e}")))
}

/// Writes `tensors` and `metadata` to `path` (atomically, through a temporary file).
///
/// # Errors
/// [`Error::Io`] for file-system errors; errors reading tensors from their device.
pub fn save(
    path: impl AsRef<Path>,
    tensors: &StateDict,
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let path = path.as_ref();
    let bytes = to_bytes(tensors, metadata)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, &bytes)
        .map_err(|e| Error::io(format!("writing {}", Path::new(&tmp).display()), e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(format!("renaming to {}", path.display()), e))
}

/// Reads safetensors `bytes` into tensors on `device`, in the file's order, and its metadata.
///
/// # Errors
/// [`Error::InvalidArgument`] for a malformed file or a dtype SpiralTorch lacks.
pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<(StateDict, BTreeMap<String, String>)> {
    let here = Path::new("<bytes>");
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| format_error(here, e))?;
    let st = SafeTensors::deserialize(bytes).map_err(|e| format_error(here, e))?;
    let mut entries: Vec<(usize, String, Tensor)> = Vec::new();
    for (name, view) in st.tensors() {
        let dt = from_safetensors(&name, view.dtype())?;
        let t = Tensor::from_bytes(view.data(), dt, view.shape(), device)?;
        let offset = header.info(&name).map_or(0, |i| i.data_offsets.0);
        entries.push((offset, name, t));
    }
    entries.sort_by_key(|e| e.0);
    let meta = header
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    Ok((
        StateDict::from_entries(entries.into_iter().map(|(_, n, t)| (n, t)).collect()),
        meta,
    ))
}

/// Reads the safetensors file at `path` onto `device`.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; as [`from_bytes`].
pub fn load(
    path: impl AsRef<Path>,
    device: &Device,
) -> Result<(StateDict, BTreeMap<String, String>)> {
    let path = path.as_ref();
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    from_bytes(&bytes, device).map_err(|e| match e {
        Error::InvalidArgument { op, reason } => Error::InvalidArgument {
            op,
            reason: reason.replace("<bytes>", &path.display().to_string()),
        },
        other => other,
    })
}
