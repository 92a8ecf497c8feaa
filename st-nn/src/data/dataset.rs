//! The [`Dataset`] trait and the in-memory [`TensorDataset`].

use rayon::prelude::*;
use st_core::{Device, Error, Result, Tensor};

/// A map-style dataset (`torch.utils.data.Dataset`): sample `i` is a tuple of tensors, such as
/// `(image, label)`.
pub trait Dataset: Send + Sync {
    /// The number of samples.
    fn len(&self) -> usize;

    /// Whether the dataset is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `index`.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] for an index past the end; the dataset's own errors.
    fn get(&self, index: usize) -> Result<Vec<Tensor>>;

    /// The samples at `indices`, collated: field `k` of the batch stacks field `k` of every
    /// sample along a new first dimension. The default loads the samples in parallel with
    /// rayon and stacks them; datasets that hold whole columns override it with one gather.
    ///
    /// # Errors
    /// Errors of [`get`](Dataset::get); [`Error::ShapeMismatch`] when samples' fields differ
    /// in shape or count.
    fn get_batch(&self, indices: &[usize]) -> Result<Vec<Tensor>> {
        let samples: Vec<Vec<Tensor>> = indices
            .par_iter()
            .map(|&i| self.get(i))
            .collect::<Result<_>>()?;
        let Some(first) = samples.first() else {
            return Ok(Vec::new());
        };
        (0..first.len())
            .map(|k| {
                let field: Vec<&Tensor> = samples
                    .iter()
                    .map(|s| {
                        s.get(k).ok_or_else(|| {
                            Error::invalid(
                                "Dataset::get_batch",
                                "samples have different field counts",
                            )
                        })
                    })
                    .collect::<Result<_>>()?;
                Tensor::stack(&field, 0)
            })
            .collect()
    }
}

/// Tensors that share their first dimension, sample `i` being row `i` of each
/// (`torch.utils.data.TensorDataset`). Batches are one `index_select` per tensor.
#[derive(Clone)]
pub struct TensorDataset {
    tensors: Vec<Tensor>,
}

impl TensorDataset {
    /// A dataset of `tensors`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the tensors' first dimensions differ;
    /// [`Error::InvalidArgument`] for no tensors or a 0-d tensor.
    pub fn new(tensors: Vec<Tensor>) -> Result<TensorDataset> {
        let Some(first) = tensors.first() else {
            return Err(Error::invalid("TensorDataset", "needs at least one tensor"));
        };
        if tensors.iter().any(|t| t.rank() == 0) {
            return Err(Error::invalid(
                "TensorDataset",
                "tensors need a first (sample) dimension",
            ));
        }
        let n = first.dims()[0];
        if let Some(t) = tensors.iter().find(|t| t.dims()[0] != n) {
            return Err(Error::ShapeMismatch {
                op: "TensorDataset",
                lhs: Box::new(first.shape().clone()),
                rhs: Box::new(t.shape().clone()),
                detail: ": every tensor needs the same first dimension".into(),
            });
        }
        Ok(TensorDataset { tensors })
    }

    /// The tensors.
    pub fn tensors(&self) -> &[Tensor] {
        &self.tensors
    }

    /// The samples at `indices`, as a new dataset (a subset or a permutation).
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] for an index past the end.
    pub fn select(&self, indices: &[usize]) -> Result<TensorDataset> {
        Ok(TensorDataset {
            tensors: self.get_batch(indices)?,
        })
    }
}

impl Dataset for TensorDataset {
    fn len(&self) -> usize {
        self.tensors[0].dims()[0]
    }

    fn get(&self, index: usize) -> Result<Vec<Tensor>> {
        if index >= self.len() {
            return Err(Error::IndexOutOfRange {
                op: "TensorDataset::get",
                index: index as i64,
                size: self.len(),
            });
        }
        self.tensors
            .iter()
            .map(|t| t.select(0, index as isize))
            .collect()
    }

    fn get_batch(&self, indices: &[usize]) -> Result<Vec<Tensor>> {
        let n = self.len();
        if let Some(&bad) = indices.iter().find(|&&i| i >= n) {
            return Err(Error::IndexOutOfRange {
                op: "TensorDataset::get_batch",
                index: bad as i64,
                size: n,
            });
        }
        let idx: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
        let mut cache: Vec<(Device, Tensor)> = Vec::new();
        self.tensors
            .iter()
            .map(|t| {
                let dev = t.device();
                let ix = match cache.iter().find(|(d, _)| *d == dev) {
                    Some((_, ix)) => ix.clone(),
                    None => {
                        let ix = Tensor::from_vec(idx.clone(), [idx.len()], &dev)?;
                        cache.push((dev, ix.clone()));
                        ix
                    }
                };
                t.index_select(0, &ix)
            })
            .collect()
    }
}
