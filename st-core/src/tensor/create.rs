//! Creating tensors: from host data, constants, ranges, identity, and seeded random values.

use super::Tensor;
use crate::alloc::try_vec_from_fn;
use crate::backend::backend;
use crate::cpu::CpuBuffer;
use crate::device::Device;
use crate::dispatch::dispatch_on;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::op::{check_scalar, OpId, OpParams};
use crate::shape::Shape;
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A seedable random generator: the same seed gives the same values on every platform.
pub struct Generator {
    rng: ChaCha8Rng,
}

impl Generator {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Generator {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }
}

static DEFAULT_GEN: Mutex<Option<Generator>> = Mutex::new(None);

/// Reseeds the default generator (PyTorch's `torch.manual_seed`).
pub fn manual_seed(seed: u64) {
    *DEFAULT_GEN.lock() = Some(Generator::new(seed));
}

fn with_default_gen<R>(f: impl FnOnce(&mut Generator) -> R) -> R {
    let mut g = DEFAULT_GEN.lock();
    f(g.get_or_insert_with(|| Generator::new(0x5EED_5A1C_70C4)))
}

/// `shape`, when it holds exactly `len` elements.
///
/// # Errors
/// [`Error::ElementCount`] naming `op` otherwise.
pub(crate) fn element_count(op: &'static str, shape: Shape, len: usize) -> Result<Shape> {
    if shape.checked_numel() != Some(len) {
        return Err(Error::ElementCount {
            op,
            len,
            shape: Box::new(shape),
        });
    }
    Ok(shape)
}

impl Tensor {
    /// A tensor holding `data` with `shape` (row-major), on `device`. On the CPU the vector is
    /// moved in, not copied: the tensor's storage is the vector's memory, freed after the last
    /// view of it is gone (its spare capacity stays allocated until then). Other devices
    /// upload a copy.
    ///
    /// ```
    /// use st_core::{Tensor, Device};
    /// let data = vec![1i64, 2, 3, 4, 5, 6];
    /// let ptr = data.as_ptr();
    /// let t = Tensor::from_vec(data, [2, 3], &Device::cpu())?;
    /// assert_eq!(t.dims(), &[2, 3]);
    /// assert_eq!(t.as_bytes()?.as_ptr(), ptr.cast::<u8>()); // no copy
    /// # Ok::<(), st_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ElementCount`] when `data.len()` differs from the shape's element count.
    pub fn from_vec<T: Element>(
        data: Vec<T>,
        shape: impl Into<Shape>,
        device: &Device,
    ) -> Result<Tensor> {
        if !device.is_cpu() {
            return Tensor::from_slice(&data, shape, device);
        }
        let shape = element_count("from_vec", shape.into(), data.len())?;
        let storage = CpuBuffer::from_vec(data).into_storage();
        Ok(Tensor::wrap(
            storage,
            Layout::contiguous(shape),
            T::DTYPE,
            *device,
        ))
    }

    /// Like [`Tensor::from_vec`], copying from a slice.
    ///
    /// # Errors
    /// As [`Tensor::from_vec`].
    pub fn from_slice<T: Element>(
        data: &[T],
        shape: impl Into<Shape>,
        device: &Device,
    ) -> Result<Tensor> {
        let shape = element_count("from_vec", shape.into(), data.len())?;
        let b = backend(device.backend())?;
        let storage = b.upload(device.ordinal(), T::DTYPE, bytemuck::cast_slice(data))?;
        Ok(Tensor::wrap(
            storage,
            Layout::contiguous(shape),
            T::DTYPE,
            *device,
        ))
    }

    /// A tensor from f64 values converted to `dtype`.
    pub fn from_f64_slice(
        data: &[f64],
        shape: impl Into<Shape>,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        let shape = element_count("from_f64_slice", shape.into(), data.len())?;
        Tensor::from_fn("from_f64_slice", shape, dtype, device, |i| data[i])
    }

    /// A tensor of `shape` holding `f(0), f(1), ...` (row-major), computed on the host as
    /// f64 and converted to `dtype` once, in fallibly allocated memory.
    fn from_fn(
        op: &'static str,
        shape: Shape,
        dtype: DType,
        device: &Device,
        mut f: impl FnMut(usize) -> f64,
    ) -> Result<Tensor> {
        let n = shape.valid_numel(op)?;
        crate::with_dtype!(dtype, T, {
            let v: Vec<T> = try_vec_from_fn(n, |i| T::from_f64(f(i)))?;
            Tensor::from_slice(&v, shape, device)
        })
    }

    /// A 0-d tensor.
    pub fn scalar(value: f64, dtype: DType, device: &Device) -> Result<Tensor> {
        Tensor::full(Shape::scalar(), value, dtype, device)
    }

    /// A tensor filled with `value`.
    pub fn full(
        shape: impl Into<Shape>,
        value: f64,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        let params = OpParams::Fill {
            shape: shape.into(),
            dtype,
            value,
        };
        dispatch_on(*device, OpId::Fill, &[], &params)
    }

    /// Zeros.
    pub fn zeros(shape: impl Into<Shape>, dtype: DType, device: &Device) -> Result<Tensor> {
        Tensor::full(shape, 0.0, dtype, device)
    }

    /// Ones.
    pub fn ones(shape: impl Into<Shape>, dtype: DType, device: &Device) -> Result<Tensor> {
        Tensor::full(shape, 1.0, dtype, device)
    }

    /// Zeros with the shape, dtype and device of `t`.
    pub fn zeros_like(t: &Tensor) -> Result<Tensor> {
        Tensor::zeros(t.shape(), t.dtype(), &t.device())
    }

    /// Ones with the shape, dtype and device of `t`.
    pub fn ones_like(t: &Tensor) -> Result<Tensor> {
        Tensor::ones(t.shape(), t.dtype(), &t.device())
    }

    /// `value` with the shape, dtype and device of `t`.
    pub fn full_like(t: &Tensor, value: f64) -> Result<Tensor> {
        Tensor::full(t.shape(), value, t.dtype(), &t.device())
    }

    /// Uniform `[0, 1)` with the shape, dtype and device of `t`.
    pub fn rand_like(t: &Tensor) -> Result<Tensor> {
        Tensor::rand(t.shape(), t.dtype(), &t.device())
    }

    /// Standard normal with the shape, dtype and device of `t`.
    pub fn randn_like(t: &Tensor) -> Result<Tensor> {
        Tensor::randn(t.shape(), t.dtype(), &t.device())
    }

    /// `start, start+step, ...` below `end` (PyTorch's `arange`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero step or a step of the wrong sign.
    pub fn arange(
        start: f64,
        end: f64,
        step: f64,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        if !start.is_finite() || !end.is_finite() {
            return Err(Error::invalid(
                "arange",
                format!("unsupported range from {start} to {end}: both ends must be finite"),
            ));
        }
        if step == 0.0 || !step.is_finite() || (end - start) * step < 0.0 {
            return Err(Error::invalid(
                "arange",
                format!("step {step} cannot go from {start} to {end}"),
            ));
        }
        let len = ((end - start) / step).ceil().max(0.0);
        // `len` is never NaN: `max` returns 0 for it.
        if len >= isize::MAX as f64 {
            return Err(Error::invalid(
                "arange",
                format!("from {start} to {end} by {step} gives {len} elements, too many"),
            ));
        }
        let n = len as usize;
        Tensor::from_fn("arange", Shape::from(n), dtype, device, |i| {
            start + i as f64 * step
        })
    }

    /// `steps` evenly spaced values from `start` to `end` inclusive.
    pub fn linspace(
        start: f64,
        end: f64,
        steps: usize,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        let step = (end - start) / (steps.max(2) - 1) as f64;
        Tensor::from_fn("linspace", Shape::from(steps), dtype, device, |i| {
            if i == 0 {
                start
            } else if i == steps - 1 {
                end
            } else {
                start + i as f64 * step
            }
        })
    }

    /// The `n × n` identity.
    pub fn eye(n: usize, dtype: DType, device: &Device) -> Result<Tensor> {
        Tensor::from_fn("eye", Shape::from([n, n]), dtype, device, |i| {
            f64::from(u8::from(i % (n + 1) == 0))
        })
    }

    /// Uniform `[0, 1)` from the default generator (see [`manual_seed`]).
    pub fn rand(shape: impl Into<Shape>, dtype: DType, device: &Device) -> Result<Tensor> {
        let shape = shape.into();
        with_default_gen(|g| Tensor::rand_with(g, shape, dtype, device))
    }

    /// Standard normal from the default generator.
    pub fn randn(shape: impl Into<Shape>, dtype: DType, device: &Device) -> Result<Tensor> {
        let shape = shape.into();
        with_default_gen(|g| Tensor::randn_with(g, shape, dtype, device))
    }

    /// Uniform integers in `[low, high)` from the default generator.
    pub fn randint(
        low: i64,
        high: i64,
        shape: impl Into<Shape>,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        let shape = shape.into();
        with_default_gen(|g| Tensor::randint_with(g, low, high, shape, dtype, device))
    }

    /// Uniform `[0, 1)` from `gen`.
    ///
    /// # Errors
    /// [`Error::DTypeMismatch`] for non-float dtypes.
    pub fn rand_with(
        gen: &mut Generator,
        shape: impl Into<Shape>,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        float_only("rand", dtype)?;
        Tensor::from_fn("rand", shape.into(), dtype, device, |_| {
            gen.rng.random::<f64>()
        })
    }

    /// Standard normal from `gen`.
    pub fn randn_with(
        gen: &mut Generator,
        shape: impl Into<Shape>,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        float_only("randn", dtype)?;
        Tensor::from_fn("randn", shape.into(), dtype, device, |_| {
            StandardNormal.sample(&mut gen.rng)
        })
    }

    /// Uniform integers in `[low, high)` from `gen`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `low >= high`.
    pub fn randint_with(
        gen: &mut Generator,
        low: i64,
        high: i64,
        shape: impl Into<Shape>,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        if low >= high {
            return Err(Error::invalid(
                "randint",
                format!("empty range [{low}, {high})"),
            ));
        }
        // Both bounds must be values of the dtype (PyTorch checks the same); every i64 is.
        if dtype != DType::I64 {
            check_scalar("randint", dtype, low as f64)?;
            check_scalar("randint", dtype, (high - 1) as f64)?;
        }
        let shape = shape.into();
        if dtype == DType::I64 {
            // Drawn as i64 directly: beyond 2^53 a trip through f64 would round.
            let n = shape.valid_numel("randint")?;
            let v = try_vec_from_fn(n, |_| gen.rng.random_range(low..high))?;
            return Tensor::from_slice(&v, shape, device);
        }
        Tensor::from_fn("randint", shape, dtype, device, |_| {
            gen.rng.random_range(low..high) as f64
        })
    }
}

fn float_only(op: &'static str, dtype: DType) -> Result<()> {
    if dtype.is_float() {
        Ok(())
    } else {
        Err(Error::DTypeMismatch {
            op,
            got: vec![dtype],
            reason: "needs a floating-point dtype (use randint for integers)".into(),
        })
    }
}

// The default device lives with tensor creation: publishing its change is an event, and the
// device module stays below the event bus.
static DEFAULT_DEVICE: parking_lot::Mutex<Device> = parking_lot::Mutex::new(Device::cpu());

/// Sets the device new tensors default to, and publishes `BackendChanged` on the global event
/// bus when it changes.
pub fn set_default_device(device: Device) {
    let changed = {
        let mut d = DEFAULT_DEVICE.lock();
        let changed = *d != device;
        *d = device;
        changed
    };
    if changed {
        crate::events::global_event_bus().publish(&crate::events::PluginEvent::BackendChanged {
            backend: device.to_string(),
        });
    }
}

/// The default device (the CPU unless [`set_default_device`] changed it).
pub fn default_device() -> Device {
    *DEFAULT_DEVICE.lock()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_values() {
        let d = Device::cpu();
        let a = Tensor::randn_with(&mut Generator::new(7), [5], DType::F32, &d).unwrap();
        let b = Tensor::randn_with(&mut Generator::new(7), [5], DType::F32, &d).unwrap();
        let c = Tensor::randn_with(&mut Generator::new(8), [5], DType::F32, &d).unwrap();
        assert_eq!(a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
        assert_ne!(a.to_vec::<f32>().unwrap(), c.to_vec::<f32>().unwrap());
    }

    #[test]
    fn arange_linspace_eye() {
        let d = Device::cpu();
        let a = Tensor::arange(0.0, 1.0, 0.25, DType::F64, &d).unwrap();
        assert_eq!(a.to_vec::<f64>().unwrap(), vec![0.0, 0.25, 0.5, 0.75]);
        let l = Tensor::linspace(0.0, 1.0, 3, DType::F64, &d).unwrap();
        assert_eq!(l.to_vec::<f64>().unwrap(), vec![0.0, 0.5, 1.0]);
        let e = Tensor::eye(2, DType::I64, &d).unwrap();
        assert_eq!(e.to_vec::<i64>().unwrap(), vec![1, 0, 0, 1]);
        assert!(Tensor::arange(0.0, 1.0, -1.0, DType::F32, &d).is_err());
        let e = Tensor::from_vec(vec![1.0f32; 3], [2, 2], &d).unwrap_err();
        assert!(matches!(e, Error::ElementCount { .. }));
    }
}
