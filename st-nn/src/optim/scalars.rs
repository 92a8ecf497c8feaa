//! Hyper-parameters as 0-d tensors, one per (slot, dtype, device), refilled only when their
//! value changes: an update written with tensor-tensor in-place ops then allocates nothing.

use st_core::{DType, Device, Result, Tensor};

#[derive(Default)]
pub(crate) struct Scalars {
    entries: Vec<(u8, DType, Device, f64, Tensor)>,
}

impl Scalars {
    /// The 0-d tensor of `value` for slot `slot`, with `like`'s dtype and device.
    pub(crate) fn get(&mut self, slot: u8, value: f64, like: &Tensor) -> Result<Tensor> {
        let (dt, dev) = (like.dtype(), like.device());
        if let Some(e) = self
            .entries
            .iter_mut()
            .find(|e| e.0 == slot && e.1 == dt && e.2 == dev)
        {
            if e.3.to_bits() != value.to_bits() {
                e.4.fill_(value)?;
                e.3 = value;
            }
            return Ok(e.4.clone());
        }
        let t = Tensor::scalar(value, dt, &dev)?;
        self.entries.push((slot, dt, dev, value, t.clone()));
        Ok(t)
    }
}
