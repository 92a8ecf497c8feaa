//! `__getitem__` / `__setitem__` with NumPy/PyTorch semantics: ints, slices with positive
//! steps, negative indices, `...`, `None`, integer tensors and lists, and bool masks.
//!
//! Basic entries become one st-core view (`Tensor::index`). Advanced entries (integer or
//! bool tensors) are applied to that view: their index values are checked and normalised on
//! the host, broadcast together to a shape `B`, combined into one linear index over the
//! indexed dims, and gathered with `index_select` (so gradients flow). When the advanced
//! entries are not next to each other, `B` comes first, as in NumPy. Writes go through
//! `slice_assign` (basic) and `index_put_` (advanced), st-core's in-place ops.

use super::convert::{to_tensor, Operand};
use super::handle::PyTensor;
use crate::errors::{index_error, type_error, value_error, IntoPyResult};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyEllipsis, PyList, PySlice, PyTuple};
use st_core::{DType, Device, Shape, SliceIndex, Tensor};

/// One parsed key entry.
enum Entry {
    Basic(SliceIndex),
    /// An integer index tensor (i64, on the CPU) for one dim.
    Adv(Tensor),
    /// A bool mask covering as many dims as it has.
    Mask(Tensor),
}

fn parse_slice(s: &Bound<'_, PySlice>) -> PyResult<SliceIndex> {
    let get = |name: &str| -> PyResult<Option<isize>> {
        let v = s.getattr(name)?;
        if v.is_none() {
            Ok(None)
        } else {
            v.extract::<isize>()
                .map(Some)
                .map_err(|_| type_error("index", "slice indices must be integers or None"))
        }
    };
    let step = get("step")?.unwrap_or(1);
    if step <= 0 {
        return Err(value_error("index", "step must be greater than zero"));
    }
    Ok(SliceIndex::Slice {
        start: get("start")?,
        end: get("stop")?,
        step: step as usize,
    })
}

fn index_tensor(t: &Tensor) -> PyResult<Entry> {
    match t.dtype() {
        DType::Bool => Ok(Entry::Mask(t.to(&Device::cpu()).py()?)),
        DType::I64 | DType::I32 | DType::U8 => {
            if t.dtype() == DType::U8 {
                return Err(index_error(
                    "index",
                    "uint8 tensors as indices are not supported; use a bool or int64 tensor",
                ));
            }
            if t.rank() == 0 {
                let v = t
                    .to_dtype(DType::I64)
                    .and_then(|t| t.to_vec::<i64>())
                    .py()?;
                return Ok(Entry::Basic(SliceIndex::Index(v[0] as isize)));
            }
            let i = t
                .to(&Device::cpu())
                .and_then(|t| t.to_dtype(DType::I64))
                .py()?;
            Ok(Entry::Adv(i))
        }
        d => Err(index_error(
            "index",
            format!(
                "tensors used as indices must be long, int or bool tensors, got {}",
                crate::dtype::torch_name(d)
            ),
        )),
    }
}

fn parse_entry(item: &Bound<'_, PyAny>) -> PyResult<Entry> {
    if item.is_none() {
        return Ok(Entry::Basic(SliceIndex::NewAxis));
    }
    if item.is_instance_of::<PyEllipsis>() {
        return Ok(Entry::Basic(SliceIndex::Ellipsis));
    }
    if let Ok(s) = item.cast::<PySlice>() {
        return Ok(Entry::Basic(parse_slice(s)?));
    }
    if item.is_instance_of::<PyBool>() {
        return Err(index_error(
            "index",
            "bool scalars as indices are not supported",
        ));
    }
    if let Ok(t) = item.cast::<PyTensor>() {
        return index_tensor(&t.get().inner);
    }
    if item.is_instance_of::<PyList>()
        || item.is_instance_of::<PyTuple>()
        || super::numpy::is_ndarray(item)
    {
        let t = to_tensor("index", item, None, &Device::cpu())?;
        let t = if t.numel() == 0 {
            t.to_dtype(DType::I64).py()?
        } else {
            t
        };
        if t.rank() == 0 {
            return Ok(Entry::Adv(t.to_dtype(DType::I64).py()?));
        }
        return index_tensor(&t);
    }
    if let Ok(i) = item.extract::<isize>() {
        return Ok(Entry::Basic(SliceIndex::Index(i)));
    }
    Err(index_error(
        "index",
        format!(
            "only integers, slices (`:`), ellipsis (`...`), None and long or bool tensors are \
             valid indices (got {})",
            item.get_type().name()?
        ),
    ))
}

fn parse_key(key: &Bound<'_, PyAny>) -> PyResult<Vec<Entry>> {
    match key.cast::<PyTuple>() {
        Ok(t) => t.iter().map(|i| parse_entry(&i)).collect(),
        Err(_) => Ok(vec![parse_entry(key)?]),
    }
}

/// The coordinates of the true entries of a bool mask, one i64 tensor per mask dim.
fn mask_coords(mask: &Tensor) -> PyResult<Vec<Tensor>> {
    let dims = mask.dims().to_vec();
    let vals = mask.to_f64_vec().py()?;
    let mut coords: Vec<Vec<i64>> = vec![Vec::new(); dims.len()];
    for (flat, v) in vals.iter().enumerate() {
        if *v != 0.0 {
            let mut rem = flat;
            for d in (0..dims.len()).rev() {
                coords[d].push((rem % dims[d]) as i64);
                rem /= dims[d];
            }
        }
    }
    coords
        .into_iter()
        .map(|c| {
            let n = c.len();
            Tensor::from_vec(c, [n], &Device::cpu()).py()
        })
        .collect()
}

/// The plan of an index: the basic view and the advanced indices on it.
struct Plan {
    view: Tensor,
    /// (dim of `view`, normalised i64 index values broadcast to `bshape`).
    adv: Vec<(usize, Vec<i64>)>,
    bshape: Vec<usize>,
}

fn plan(t: &Tensor, entries: Vec<Entry>) -> PyResult<Plan> {
    // Expand masks into per-dim coordinate tensors, remembering their shapes for the check.
    let mut flat: Vec<(Entry, Option<(Vec<usize>, usize)>)> = Vec::new();
    for (k, e) in entries.into_iter().enumerate() {
        match e {
            Entry::Mask(m) => {
                let dims = m.dims().to_vec();
                if dims.is_empty() {
                    return Err(index_error("index", "0-d bool masks are not supported"));
                }
                for (j, c) in mask_coords(&m)?.into_iter().enumerate() {
                    flat.push((Entry::Adv(c), (j == 0).then(|| (dims.clone(), k))));
                }
            }
            e => flat.push((e, None)),
        }
    }
    let consumed = flat
        .iter()
        .filter(|(e, _)| {
            !matches!(
                e,
                Entry::Basic(SliceIndex::NewAxis) | Entry::Basic(SliceIndex::Ellipsis)
            )
        })
        .count();
    let rank = t.rank();
    if consumed > rank {
        return Err(index_error(
            "index",
            format!("too many indices for tensor of dimension {rank} ({consumed} given)"),
        ));
    }
    let mut basic = Vec::with_capacity(flat.len());
    let mut adv_raw: Vec<(usize, Tensor)> = Vec::new();
    let (mut in_dim, mut out_dim) = (0usize, 0usize);
    for (e, mask) in flat {
        if let Some((mdims, k)) = mask {
            let have = t.dims().get(in_dim..in_dim + mdims.len());
            if have != Some(mdims.as_slice()) {
                return Err(index_error(
                    "index",
                    format!(
                        "the shape of the mask {mdims:?} at index {k} does not match the shape \
                         of the indexed tensor {}",
                        t.shape()
                    ),
                ));
            }
        }
        match e {
            Entry::Basic(SliceIndex::Index(i)) => {
                basic.push(SliceIndex::Index(i));
                in_dim += 1;
            }
            Entry::Basic(SliceIndex::NewAxis) => {
                basic.push(SliceIndex::NewAxis);
                out_dim += 1;
            }
            Entry::Basic(SliceIndex::Ellipsis) => {
                basic.push(SliceIndex::Ellipsis);
                let n = rank - consumed;
                in_dim += n;
                out_dim += n;
            }
            Entry::Basic(s) => {
                basic.push(s);
                in_dim += 1;
                out_dim += 1;
            }
            Entry::Adv(i) => {
                let size = t.dims()[in_dim];
                basic.push(SliceIndex::full());
                adv_raw.push((out_dim, i));
                let _ = size;
                in_dim += 1;
                out_dim += 1;
            }
            Entry::Mask(_) => unreachable_mask()?,
        }
    }
    let view = t.index(&basic).py()?;
    let mut bshape = Shape::scalar();
    for (_, i) in &adv_raw {
        bshape = Shape::broadcast("index", &bshape, i.shape()).map_err(|e| {
            index_error(
                "index",
                format!("shape mismatch: indexing tensors could not be broadcast together ({e})"),
            )
        })?;
    }
    let mut adv = Vec::with_capacity(adv_raw.len());
    for (d, i) in adv_raw {
        let size = view.dims()[d] as i64;
        let vals = i.expand(&bshape).and_then(|x| x.to_vec_any()).py()?;
        let mut norm = Vec::with_capacity(vals.len());
        for v in vals {
            let w = if v < 0 { v + size } else { v };
            if w < 0 || w >= size {
                return Err(index_error(
                    "index",
                    format!("index {v} is out of bounds for dimension {d} with size {size}"),
                ));
            }
            norm.push(w);
        }
        adv.push((d, norm));
    }
    Ok(Plan {
        view,
        adv,
        bshape: bshape.dims().to_vec(),
    })
}

fn unreachable_mask() -> PyResult<()> {
    Err(crate::errors::runtime_error(
        "index",
        "internal: unexpanded mask",
    ))
}

trait ToVecAny {
    fn to_vec_any(&self) -> st_core::Result<Vec<i64>>;
}

impl ToVecAny for Tensor {
    fn to_vec_any(&self) -> st_core::Result<Vec<i64>> {
        self.contiguous()?.to_dtype(DType::I64)?.to_vec::<i64>()
    }
}

impl Plan {
    /// `(view with the advanced dims at p..p+k, p)`: permuted to the front when they are not
    /// adjacent (NumPy's rule).
    fn grouped(&self) -> PyResult<(Tensor, usize)> {
        let dims: Vec<usize> = self.adv.iter().map(|(d, _)| *d).collect();
        let adjacent = dims.windows(2).all(|w| w[1] == w[0] + 1);
        if adjacent {
            return Ok((self.view.clone(), dims[0]));
        }
        let rank = self.view.rank();
        let mut perm: Vec<isize> = dims.iter().map(|&d| d as isize).collect();
        perm.extend((0..rank).filter(|d| !dims.contains(d)).map(|d| d as isize));
        Ok((self.view.permute(&perm).py()?, 0))
    }

    fn get(&self) -> PyResult<Tensor> {
        if self.adv.is_empty() {
            return Ok(self.view.clone());
        }
        let (v, p) = self.grouped()?;
        let k = self.adv.len();
        let sizes: Vec<i64> = v.dims()[p..p + k].iter().map(|&s| s as i64).collect();
        let n = self.adv[0].1.len();
        let mut lin = vec![0i64; n];
        for (j, (_, vals)) in self.adv.iter().enumerate() {
            for (l, &x) in lin.iter_mut().zip(vals) {
                *l = *l * sizes[j] + x;
            }
        }
        let dev = v.device();
        let lin = Tensor::from_vec(lin, [n], &Device::cpu())
            .and_then(|t| t.to(&dev))
            .py()?;
        let merged = v.flatten(p as isize, (p + k - 1) as isize).py()?;
        let picked = merged.index_select(p as isize, &lin).py()?;
        let mut out: Vec<isize> = v.dims()[..p].iter().map(|&d| d as isize).collect();
        out.extend(self.bshape.iter().map(|&d| d as isize));
        out.extend(v.dims()[p + k..].iter().map(|&d| d as isize));
        picked.reshape(&out).py()
    }

    fn set(&self, value: &Tensor) -> PyResult<()> {
        if self.adv.is_empty() {
            return self.view.copy_(value).py();
        }
        let (v, p) = self.grouped()?;
        let k = self.adv.len();
        let rank = v.rank();
        // Leading adv dims: v2 = v with dims p..p+k moved to the front (a view).
        let mut perm: Vec<isize> = (p..p + k).map(|d| d as isize).collect();
        perm.extend((0..p).chain(p + k..rank).map(|d| d as isize));
        let v2 = v.permute(&perm).py()?;
        // The region as NumPy sees it: dims[:p] + B + dims[p+k:]; index_put_ on v2 wants
        // B + dims[:p] + dims[p+k:].
        let mut region: Vec<usize> = v.dims()[..p].to_vec();
        region.extend(&self.bshape);
        region.extend(&v.dims()[p + k..]);
        let b = self.bshape.len();
        let vals = value.broadcast_to(&region).py()?;
        let mut vperm: Vec<isize> = (p..p + b).map(|d| d as isize).collect();
        vperm.extend((0..p).chain(p + b..region.len()).map(|d| d as isize));
        let vals = vals.permute(&vperm).py()?;
        let dev = v.device();
        let idx: Vec<Tensor> = self
            .adv
            .iter()
            .map(|(_, x)| {
                Tensor::from_vec(x.clone(), self.bshape.clone(), &Device::cpu())
                    .and_then(|t| t.to(&dev))
            })
            .collect::<st_core::Result<_>>()
            .py()?;
        let refs: Vec<&Tensor> = idx.iter().collect();
        v2.index_put_(&refs, &vals, false).py()
    }
}

#[pymethods]
impl PyTensor {
    fn __getitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let entries = parse_key(key)?;
        let t = self.inner.clone();
        let p = plan(&t, entries)?;
        let _ = py;
        p.get().map(PyTensor::new)
    }

    fn __setitem__(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let t = &self.inner;
        let src = match Operand::extract(value)? {
            Some(o) => o.into_tensor(t)?,
            None => to_tensor("__setitem__", value, Some(t.dtype()), &t.device())?,
        };
        let entries = parse_key(key)?;
        let all_basic = entries.iter().all(|e| matches!(e, Entry::Basic(_)));
        if all_basic {
            let basic: Vec<SliceIndex> = entries
                .into_iter()
                .filter_map(|e| match e {
                    Entry::Basic(s) => Some(s),
                    _ => None,
                })
                .collect();
            return t.slice_assign(&basic, &src).py();
        }
        plan(t, entries)?.set(&src)
    }
}
