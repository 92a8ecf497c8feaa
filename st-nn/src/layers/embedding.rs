//! [`Embedding`]: a lookup table of rows.

use super::linear::param;
use crate::init;
use crate::module::{Module, Visitor, VisitorMut};
use st_core::{default_device, DType, Device, Result, Tensor};

/// A lookup table (`nn.Embedding`): weight `[num_embeddings, dim]` from N(0, 1); integer ids
/// of any shape give `ids.shape + [dim]`.
pub struct Embedding {
    /// `[num_embeddings, embedding_dim]`.
    pub weight: Tensor,
}

impl Embedding {
    /// A table of f32 rows on the default device.
    ///
    /// # Errors
    /// Allocation errors.
    pub fn new(num_embeddings: usize, embedding_dim: usize) -> Result<Embedding> {
        Embedding::build(num_embeddings, embedding_dim, DType::F32, &default_device())
    }

    /// A table of `dtype` rows on `device`.
    ///
    /// # Errors
    /// [`st_core::Error::DTypeMismatch`] for a non-float dtype; allocation errors.
    pub fn build(num: usize, dim: usize, dtype: DType, device: &Device) -> Result<Embedding> {
        let weight = param(&[num, dim], dtype, device)?;
        init::normal_(&weight, 0.0, 1.0)?;
        Ok(Embedding { weight })
    }
}

impl Module for Embedding {
    /// # Errors
    /// [`st_core::Error::IndexOutOfRange`] for an id outside the table;
    /// [`st_core::Error::DTypeMismatch`] for non-integer ids.
    fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        self.weight.embedding(ids)
    }

    fn visit(&self, v: &mut Visitor<'_>) {
        v.param("weight", &self.weight);
    }

    fn visit_mut(&mut self, v: &mut VisitorMut<'_>) {
        v.param("weight", &mut self.weight);
    }
}
