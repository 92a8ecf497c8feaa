//! [`Dropout`]: seeded, the identity in evaluation mode.

use crate::module::{Mode, Module, Visitor, VisitorMut};
use parking_lot::Mutex;
use st_core::{DType, Device, Error, Generator, Result, Tensor};

/// Zeroes each element with probability `p` in training and scales the rest by `1/(1-p)`
/// (`nn.Dropout`). The mask comes from the layer's own generator, so a seed fixes it.
pub struct Dropout {
    p: f64,
    gen: Mutex<Generator>,
    mode: Mode,
}

impl Dropout {
    /// Dropout with probability `p`, seeded from st-core's default generator (so
    /// [`st_core::manual_seed`] makes it reproducible).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `0 <= p <= 1`.
    pub fn new(p: f64) -> Result<Dropout> {
        let seed =
            Tensor::randint(0, i64::MAX, [], DType::I64, &Device::cpu())?.to_scalar::<i64>()?;
        Dropout::with_seed(p, seed as u64)
    }

    /// Dropout with probability `p` and its own `seed`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `0 <= p <= 1`.
    pub fn with_seed(p: f64, seed: u64) -> Result<Dropout> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::invalid(
                "Dropout",
                format!("probability must be in [0, 1], got {p}"),
            ));
        }
        Ok(Dropout {
            p,
            gen: Mutex::new(Generator::new(seed)),
            mode: Mode::default(),
        })
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if !self.mode.is_training() || self.p == 0.0 {
            return Ok(x.clone());
        }
        if self.p == 1.0 {
            return x.mul_scalar(0.0);
        }
        let u = Tensor::rand_with(
            &mut self.gen.lock(),
            x.shape().clone(),
            DType::F32,
            &x.device(),
        )?;
        let keep = u.ge_scalar(self.p)?.to_dtype(x.dtype())?;
        x.mul(&keep.mul_scalar(1.0 / (1.0 - self.p))?)
    }

    fn visit(&self, v: &mut Visitor<'_>) {
        v.mode(&self.mode);
    }

    fn visit_mut(&mut self, _v: &mut VisitorMut<'_>) {}
}
