//! [`MultiheadAttention`]: scaled dot-product attention over several heads, with PyTorch's
//! parameter layout (`in_proj_weight [3E, E]`, `out_proj.weight [E, E]`) and an optional
//! causal mask.

use super::linear::{param, Linear};
use crate::init;
use crate::module::{Module, Visitor, VisitorMut};
use st_core::{default_device, DType, Device, Error, Result, Tensor};

/// Multi-head attention (`nn.MultiheadAttention`, no dropout on the weights).
///
/// Inputs are `[L, N, E]` (sequence first, PyTorch's default) or `[N, L, E]` with
/// `batch_first`. [`Module::forward`] is self-attention (`q = k = v = x`) with the causal mask
/// when `causal` is set; [`MultiheadAttention::attend`] takes separate query, key and value
/// and an optional mask, and also returns the attention weights averaged over heads.
pub struct MultiheadAttention {
    /// Query, key and value projections stacked: `[3E, E]` (Xavier-uniform).
    pub in_proj_weight: Tensor,
    /// Their biases `[3E]` (zeros), when the layer has biases.
    pub in_proj_bias: Option<Tensor>,
    /// The output projection (`out_proj.weight [E, E]`, `out_proj.bias [E]` zeros).
    pub out_proj: Linear,
    heads: usize,
    /// Inputs are `[N, L, E]` instead of `[L, N, E]`.
    pub batch_first: bool,
    /// [`Module::forward`] masks future positions (`j > i`).
    pub causal: bool,
}

impl MultiheadAttention {
    /// `num_heads` heads over `embed_dim` features with biases, sequence-first, f32 on the
    /// default device.
    ///
    /// # Errors
    /// As [`MultiheadAttention::build`].
    pub fn new(embed_dim: usize, num_heads: usize) -> Result<Self> {
        Self::build(embed_dim, num_heads, true, DType::F32, &default_device())
    }

    /// Multi-head attention with every option.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `num_heads` is zero or does not divide `embed_dim`.
    pub fn build(
        e: usize,
        heads: usize,
        bias: bool,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        if heads == 0 || !e.is_multiple_of(heads) {
            return Err(Error::invalid(
                "MultiheadAttention",
                format!("embed_dim {e} must be divisible by num_heads {heads}"),
            ));
        }
        let in_proj_weight = param(&[3 * e, e], dtype, device)?;
        init::xavier_uniform_(&in_proj_weight, 1.0)?;
        let in_proj_bias = if bias {
            Some(param(&[3 * e], dtype, device)?)
        } else {
            None
        };
        let out_proj = Linear::build(e, e, bias, dtype, device)?;
        if let Some(b) = &out_proj.bias {
            init::zeros_(b)?;
        }
        Ok(MultiheadAttention {
            in_proj_weight,
            in_proj_bias,
            out_proj,
            heads,
            batch_first: false,
            causal: false,
        })
    }

    /// The number of heads.
    pub fn num_heads(&self) -> usize {
        self.heads
    }

    fn embed_dim(&self) -> usize {
        self.in_proj_weight.dims()[1]
    }

    /// Projection `i` (0 query, 1 key, 2 value) of `x [N, T, E]`, split into heads
    /// `[N, H, T, D]`.
    fn project(&self, x: &Tensor, i: usize) -> Result<Tensor> {
        let e = self.embed_dim();
        let w = self.in_proj_weight.narrow(0, i * e, e)?;
        let mut y = x.matmul(&w.t()?)?;
        if let Some(b) = &self.in_proj_bias {
            y = y.add(&b.narrow(0, i * e, e)?)?;
        }
        let (n, t) = (x.dims()[0], x.dims()[1]);
        let d = (e / self.heads) as isize;
        y.reshape(&[n as isize, t as isize, self.heads as isize, d])?
            .permute(&[0, 2, 1, 3])
    }

    fn check(&self, what: &str, x: &Tensor) -> Result<()> {
        let e = self.embed_dim();
        if x.rank() != 3 || x.dims()[2] != e {
            return Err(Error::ShapeMismatch {
                op: "MultiheadAttention",
                lhs: Box::new(x.shape().clone()),
                rhs: Box::new(self.in_proj_weight.shape().clone()),
                detail: format!(": {what} must be rank 3 with embed_dim {e} last"),
            });
        }
        Ok(())
    }

    /// Attention of `query [L, N, E]` over `key`/`value [S, N, E]` (batch first: `[N, L, E]`,
    /// `[N, S, E]`). `mask` is `[L, S]`: bool (`true` hides the key) or float (added to the
    /// scores); `causal` also hides keys `j > i`. Returns the output, shaped like `query`, and
    /// the weights `[N, L, S]` averaged over heads.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for inputs of the wrong rank or width, mismatched batch or
    /// key/value lengths, or a mask that is not `[L, S]`.
    pub fn attend(
        &self,
        query: &Tensor,
        key: &Tensor,
        value: &Tensor,
        mask: Option<&Tensor>,
        causal: bool,
    ) -> Result<(Tensor, Tensor)> {
        for (w, t) in [("query", query), ("key", key), ("value", value)] {
            self.check(w, t)?;
        }
        let bf = |t: &Tensor| {
            if self.batch_first {
                Ok(t.clone())
            } else {
                t.transpose(0, 1)
            }
        };
        let (q, k, v) = (bf(query)?, bf(key)?, bf(value)?);
        if q.dims()[0] != k.dims()[0] || k.dims()[..2] != v.dims()[..2] {
            return Err(Error::ShapeMismatch {
                op: "MultiheadAttention",
                lhs: Box::new(key.shape().clone()),
                rhs: Box::new(value.shape().clone()),
                detail: ": query, key and value need one batch size, key and value one length"
                    .into(),
            });
        }
        let (n, l, s, e) = (q.dims()[0], q.dims()[1], k.dims()[1], self.embed_dim());
        let d = e / self.heads;
        let (qh, kh, vh) = (
            self.project(&q, 0)?,
            self.project(&k, 1)?,
            self.project(&v, 2)?,
        );
        let mut scores = qh
            .matmul(&kh.transpose(-2, -1)?)?
            .mul_scalar(1.0 / (d as f64).sqrt())?;
        if let Some(m) = mask {
            if m.dims() != [l, s] {
                return Err(Error::ShapeMismatch {
                    op: "MultiheadAttention",
                    lhs: Box::new(m.shape().clone()),
                    rhs: Box::new([l, s].into()),
                    detail: ": attn_mask must be [L, S]".into(),
                });
            }
            scores = if m.dtype() == DType::Bool {
                scores.masked_fill(m, f64::NEG_INFINITY)?
            } else {
                scores.add(&m.to_dtype(scores.dtype())?)?
            };
        }
        if causal {
            let hide: Vec<f64> = (0..l * s)
                .map(|i| f64::from(u8::from(i % s > i / s)))
                .collect();
            let hide = Tensor::from_f64_slice(&hide, [l, s], DType::Bool, &Device::cpu())?
                .to(&scores.device())?;
            scores = scores.masked_fill(&hide, f64::NEG_INFINITY)?;
        }
        let attn = scores.softmax(-1)?;
        let out = attn
            .matmul(&vh)?
            .permute(&[0, 2, 1, 3])?
            .reshape(&[n as isize, l as isize, e as isize])?;
        let out = self.out_proj.forward(&out)?;
        let out = if self.batch_first {
            out
        } else {
            out.transpose(0, 1)?
        };
        Ok((out, attn.mean(&[1], false)?))
    }
}

impl Module for MultiheadAttention {
    /// Self-attention of `x`, causal when [`causal`](MultiheadAttention::causal) is set.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.attend(x, x, x, None, self.causal)?.0)
    }

    fn visit(&self, v: &mut Visitor<'_>) {
        v.param("in_proj_weight", &self.in_proj_weight);
        if let Some(b) = &self.in_proj_bias {
            v.param("in_proj_bias", b);
        }
        v.child("out_proj", &self.out_proj);
    }

    fn visit_mut(&mut self, v: &mut VisitorMut<'_>) {
        v.param("in_proj_weight", &mut self.in_proj_weight);
        if let Some(b) = &mut self.in_proj_bias {
            v.param("in_proj_bias", b);
        }
        v.child("out_proj", &mut self.out_proj);
    }
}
