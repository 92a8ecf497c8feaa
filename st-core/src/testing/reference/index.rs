//! Reference joining, splitting and indexing: cat, stack, split, chunk, index_select, gather,
//! scatter_add, embedding.

use super::{mismatch, norm_dim, sh, RefTensor};
use crate::error::{Error, Result};

fn index_at(op: &'static str, v: f64, size: usize) -> Result<usize> {
    if v < 0.0 || v >= size as f64 || v.fract() != 0.0 {
        return Err(Error::IndexOutOfRange {
            op,
            index: v as i64,
            size,
        });
    }
    Ok(v as usize)
}

/// Concatenation along `dim`.
///
/// # Errors
/// [`Error::InvalidArgument`] for no tensors; [`Error::ShapeMismatch`] when shapes differ
/// outside `dim`; [`Error::DimOutOfRange`].
pub fn cat(xs: &[RefTensor], dim: isize) -> Result<RefTensor> {
    let first = xs
        .first()
        .ok_or_else(|| Error::invalid("cat", "needs at least one tensor"))?;
    let d = norm_dim("cat", dim, first.rank())?;
    for x in xs {
        let same = x.rank() == first.rank()
            && (0..x.rank()).all(|k| k == d || x.shape[k] == first.shape[k]);
        if !same || x.rank() == 0 {
            return Err(mismatch("cat", &first.shape, &x.shape));
        }
    }
    let mut shape = first.shape.clone();
    shape[d] = xs.iter().map(|x| x.shape[d]).sum();
    let mut src = vec![0; shape.len()];
    Ok(RefTensor::from_fn(&shape, |i| {
        let (mut j, mut k) = (i[d], 0);
        while j >= xs[k].shape[d] {
            j -= xs[k].shape[d];
            k += 1;
        }
        src.copy_from_slice(i);
        src[d] = j;
        xs[k].data[xs[k].offset(&src)]
    }))
}

/// Stacks equally shaped tensors along a new dim `dim`.
///
/// # Errors
/// [`Error::ShapeMismatch`] for differing shapes; [`Error::DimOutOfRange`].
pub fn stack(xs: &[RefTensor], dim: isize) -> Result<RefTensor> {
    let first = xs
        .first()
        .ok_or_else(|| Error::invalid("stack", "needs at least one tensor"))?;
    let d = norm_dim("stack", dim, first.rank() + 1)?;
    let mut u = Vec::with_capacity(xs.len());
    for x in xs {
        if x.shape != first.shape {
            return Err(mismatch("stack", &first.shape, &x.shape));
        }
        let mut s = x.shape.clone();
        s.insert(d, 1);
        u.push(x.reshape(&s)?);
    }
    cat(&u, d as isize)
}

/// Pieces of `size` along `dim` (the last may be smaller; one empty piece for an empty dim).
///
/// # Errors
/// [`Error::InvalidArgument`] for size 0 or a 0-d input; [`Error::DimOutOfRange`].
pub fn split(x: &RefTensor, size: usize, dim: isize) -> Result<Vec<RefTensor>> {
    if size == 0 || x.rank() == 0 {
        return Err(Error::invalid(
            "split",
            "size must be positive and the input at least 1-d",
        ));
    }
    let d = norm_dim("split", dim, x.rank())?;
    let n = x.shape[d];
    if n == 0 {
        return Ok(vec![x.clone()]);
    }
    (0..n)
        .step_by(size)
        .map(|s| x.slice(d, s, size.min(n - s), 1))
        .collect()
}

/// `chunks` nearly equal pieces along `dim` (PyTorch `chunk`: pieces of `ceil(n / chunks)`).
///
/// # Errors
/// As [`split`].
pub fn chunk(x: &RefTensor, chunks: usize, dim: isize) -> Result<Vec<RefTensor>> {
    if chunks == 0 || x.rank() == 0 {
        return Err(Error::invalid(
            "chunk",
            "chunks must be positive and the input at least 1-d",
        ));
    }
    let d = norm_dim("chunk", dim, x.rank())?;
    split(x, x.shape[d].div_ceil(chunks).max(1), d as isize)
}

/// Entries `index` (0-d or 1-d) along `dim`.
///
/// # Errors
/// [`Error::IndexOutOfRange`]; [`Error::DimOutOfRange`].
pub fn index_select(x: &RefTensor, dim: isize, index: &RefTensor) -> Result<RefTensor> {
    let d = norm_dim("index_select", dim, x.rank())?;
    if x.rank() == 0 {
        for &v in &index.data {
            index_at("index_select", v, 1)?;
        }
        return Ok(x.clone());
    }
    let idx: Vec<usize> = index
        .data
        .iter()
        .map(|&v| index_at("index_select", v, x.shape[d]))
        .collect::<Result<_>>()?;
    let mut shape = x.shape.clone();
    shape[d] = idx.len();
    let mut src = vec![0; shape.len()];
    Ok(RefTensor::from_fn(&shape, |i| {
        src.copy_from_slice(i);
        src[d] = idx[i[d]];
        x.data[x.offset(&src)]
    }))
}

fn check_index_shape(
    op: &'static str,
    data: &RefTensor,
    index: &RefTensor,
    d: usize,
) -> Result<()> {
    let ok = data.rank() == index.rank()
        && (0..data.rank()).all(|k| k == d || index.shape[k] <= data.shape[k]);
    if ok {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            op,
            lhs: Box::new(sh(&data.shape)),
            rhs: Box::new(sh(&index.shape)),
            detail: String::new(),
        })
    }
}

/// `out[i..] = x[i.. with dim d replaced by index[i..]]` (PyTorch `gather`).
///
/// # Errors
/// [`Error::ShapeMismatch`]; [`Error::IndexOutOfRange`]; [`Error::DimOutOfRange`].
pub fn gather(x: &RefTensor, dim: isize, index: &RefTensor) -> Result<RefTensor> {
    let d = norm_dim("gather", dim, x.rank())?;
    check_index_shape("gather", x, index, d)?;
    let size = if x.rank() == 0 { 1 } else { x.shape[d] };
    let mut out = Vec::with_capacity(index.numel());
    let mut err = None;
    super::for_each_index(&index.shape, |i| {
        let mut src = i.to_vec();
        match index_at("gather", index.data[index.offset(i)], size) {
            Ok(j) if x.rank() > 0 => {
                src[d] = j;
                out.push(x.data[x.offset(&src)]);
            }
            Ok(_) => out.push(x.data[0]),
            Err(e) => {
                err.get_or_insert(e);
            }
        }
    });
    match err {
        Some(e) => Err(e),
        None => RefTensor::new(&index.shape, out),
    }
}

/// A copy of `x` with `src[i..]` added at `x[i.. with dim d replaced by index[i..]]`.
///
/// # Errors
/// [`Error::ShapeMismatch`]; [`Error::IndexOutOfRange`]; [`Error::DimOutOfRange`].
pub fn scatter_add(
    x: &RefTensor,
    dim: isize,
    index: &RefTensor,
    src: &RefTensor,
) -> Result<RefTensor> {
    let d = norm_dim("scatter_add", dim, x.rank())?;
    check_index_shape("scatter_add", x, index, d)?;
    check_index_shape("scatter_add", src, index, usize::MAX)?;
    let size = if x.rank() == 0 { 1 } else { x.shape[d] };
    let mut out = x.clone();
    let mut err = None;
    super::for_each_index(&index.shape, |i| {
        match index_at("scatter_add", index.data[index.offset(i)], size) {
            Ok(j) => {
                let mut dst = i.to_vec();
                if x.rank() > 0 {
                    dst[d] = j;
                }
                let o = out.offset(&dst);
                out.data[o] += src.data[src.offset(i)];
            }
            Err(e) => {
                err.get_or_insert(e);
            }
        }
    });
    match err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Rows of `weight` (`[num, dim]`) at `ids` (any shape): `ids.shape + [dim]`.
///
/// # Errors
/// [`Error::InvalidShape`] for a weight that is not 2-d; [`Error::IndexOutOfRange`].
pub fn embedding(weight: &RefTensor, ids: &RefTensor) -> Result<RefTensor> {
    if weight.rank() != 2 {
        return Err(Error::InvalidShape {
            op: "embedding",
            shape: Box::new(sh(&weight.shape)),
            reason: "weight must be 2-d".into(),
        });
    }
    let flat = ids.reshape(&[ids.numel()])?;
    let rows = index_select(weight, 0, &flat)?;
    let mut shape = ids.shape.clone();
    shape.push(weight.shape[1]);
    rows.reshape(&shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> RefTensor {
        RefTensor::from_fn(&[2, 3], |i| (i[0] * 3 + i[1]) as f64)
    }

    #[test]
    fn cat_stack_split() {
        let c = cat(&[t(), t()], 1).unwrap();
        assert_eq!(c.shape, vec![2, 6]);
        assert_eq!(&c.data[..6], &[0.0, 1.0, 2.0, 0.0, 1.0, 2.0]);
        assert_eq!(stack(&[t(), t()], -1).unwrap().shape, vec![2, 3, 2]);
        let s = split(&t(), 2, 1).unwrap();
        assert_eq!(
            (s[0].shape.clone(), s[1].data.clone()),
            (vec![2, 2], vec![2.0, 5.0])
        );
        assert_eq!(chunk(&t(), 2, 1).unwrap().len(), 2);
    }

    #[test]
    fn gather_scatter_select() {
        let idx = RefTensor::new(&[2, 1], vec![2.0, 0.0]).unwrap();
        assert_eq!(gather(&t(), 1, &idx).unwrap().data, vec![2.0, 3.0]);
        let z = RefTensor::from_fn(&[2, 3], |_| 0.0);
        let s = scatter_add(
            &z,
            1,
            &idx,
            &RefTensor::new(&[2, 1], vec![5.0, 7.0]).unwrap(),
        )
        .unwrap();
        assert_eq!(s.data, vec![0.0, 0.0, 5.0, 7.0, 0.0, 0.0]);
        let sel =
            index_select(&t(), 0, &RefTensor::new(&[3], vec![1.0, 1.0, 0.0]).unwrap()).unwrap();
        assert_eq!(sel.data[..3], [3.0, 4.0, 5.0]);
        assert!(gather(&t(), 1, &RefTensor::new(&[2, 1], vec![3.0, 0.0]).unwrap()).is_err());
        assert_eq!(
            embedding(&t(), &RefTensor::scalar(1.0)).unwrap().shape,
            vec![3]
        );
    }
}
