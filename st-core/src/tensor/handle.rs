//! The [`Tensor`] handle: storage + layout + dtype + device + autograd state, cheap to clone.

use crate::autograd::Node;
use crate::backend::{backend, Storage};
use crate::device::Device;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::shape::Shape;
use crate::shape_check::normalize_dim;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// An N-d strided tensor. Cloning is cheap (reference counted); views share storage.
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<TensorImpl>);

impl crate::op::InferInput for Tensor {
    #[inline]
    fn shape(&self) -> &Shape {
        Tensor::shape(self)
    }
    #[inline]
    fn dtype(&self) -> DType {
        Tensor::dtype(self)
    }
}

// Tensors cross threads (data loaders, the event bus, plugin callbacks, rayon kernels): a field
// that is not `Send + Sync` must fail the build, not a user's program.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Tensor>();
};

pub(crate) struct TensorImpl {
    pub(crate) storage: Storage,
    pub(crate) layout: Layout,
    pub(crate) dtype: DType,
    pub(crate) device: Device,
    pub(crate) requires_grad: AtomicBool,
    /// Replaced when an in-place op rebases the tensor's history.
    pub(crate) grad_fn: Mutex<Option<Arc<Node>>>,
    pub(crate) grad: Mutex<Option<Tensor>>,
    /// Gradient hooks of a leaf (a non-leaf's live on its node); see `autograd::hooks`.
    pub(crate) hooks: crate::autograd::HookList,
}

impl Tensor {
    /// Wraps a backend buffer holding `dtype` elements in a view with `layout`. Backends use
    /// this; users create tensors with the constructors in `create`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the layout is malformed or addresses an element
    /// outside the buffer (see [`Layout::check_fits`]).
    pub fn from_storage(
        storage: Storage,
        layout: Layout,
        dtype: DType,
        device: Device,
    ) -> Result<Tensor> {
        let len = storage.len_bytes() / dtype.size_in_bytes();
        layout.check_fits("from_storage", len)?;
        Ok(Tensor::wrap(storage, layout, dtype, device))
    }

    /// [`Tensor::from_storage`] for callers that built the layout for this very buffer.
    #[inline]
    pub(crate) fn wrap(storage: Storage, layout: Layout, dtype: DType, device: Device) -> Tensor {
        Tensor::with_grad_fn(storage, layout, dtype, device, None)
    }

    pub(crate) fn with_grad_fn(
        storage: Storage,
        layout: Layout,
        dtype: DType,
        device: Device,
        grad_fn: Option<Arc<Node>>,
    ) -> Tensor {
        let requires_grad = AtomicBool::new(grad_fn.is_some());
        Tensor(Arc::new(TensorImpl {
            storage,
            layout,
            dtype,
            device,
            requires_grad,
            grad_fn: Mutex::new(grad_fn),
            grad: Mutex::new(None),
            hooks: Default::default(),
        }))
    }

    /// A new view of the same storage with another layout (no autograd link).
    pub(crate) fn view_with_layout(&self, layout: Layout) -> Tensor {
        Tensor::wrap(self.0.storage.clone(), layout, self.0.dtype, self.0.device)
    }

    /// Shape.
    #[inline]
    pub fn shape(&self) -> &Shape {
        self.0.layout.shape()
    }

    /// Dimension sizes.
    #[inline]
    pub fn dims(&self) -> &[usize] {
        self.0.layout.dims()
    }

    /// Size of dim `d` (negative counts from the end).
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`].
    pub fn size(&self, d: isize) -> Result<usize> {
        // A 0-d tensor has no dims to ask for (PyTorch: "tensor has no dimensions").
        let i = normalize_dim("size", d, self.rank())?;
        self.dims().get(i).copied().ok_or(Error::DimOutOfRange {
            op: "size",
            dim: d,
            rank: 0,
        })
    }

    /// Rank (number of dims).
    #[inline]
    pub fn rank(&self) -> usize {
        self.0.layout.rank()
    }

    /// Number of elements.
    #[inline]
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }

    /// Element type.
    #[inline]
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }

    /// Device.
    #[inline]
    pub fn device(&self) -> Device {
        self.0.device
    }

    /// Layout (shape, strides, offset).
    #[inline]
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }

    /// Strides in elements.
    #[inline]
    pub fn strides(&self) -> &[isize] {
        self.0.layout.strides()
    }

    /// The underlying buffer (shared by views).
    #[inline]
    pub fn storage(&self) -> &Storage {
        &self.0.storage
    }

    /// True when the layout is row-major without gaps.
    #[inline]
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }

    /// True when both tensors view the same buffer.
    pub fn same_storage(&self, other: &Tensor) -> bool {
        self.0.storage.ptr_eq(&other.0.storage)
    }

    /// The version counter of the storage: the number of in-place writes it has had (PyTorch's
    /// `_version`; every view of the storage shares it). Autograd compares it with the
    /// version it saved a tensor at.
    #[inline]
    pub fn version(&self) -> u64 {
        self.0.storage.version()
    }

    /// Whether gradients flow to this tensor.
    #[inline]
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }

    /// Marks a leaf tensor as requiring gradients (PyTorch's `requires_grad_`).
    ///
    /// # Errors
    /// [`Error::Autograd`] for non-float dtypes or for non-leaf tensors.
    pub fn set_requires_grad(&self, on: bool) -> Result<()> {
        if on && !self.dtype().is_float() {
            return Err(Error::Autograd(format!(
                "only floating-point tensors can require gradients, this one is {}",
                self.dtype()
            )));
        }
        if self.0.grad_fn.lock().is_some() {
            return Err(Error::Autograd(
                "requires_grad can only be changed on leaf tensors; use detach() first".into(),
            ));
        }
        self.0.requires_grad.store(on, Ordering::Relaxed);
        Ok(())
    }

    /// Builder form of [`Tensor::set_requires_grad`]`(true)`.
    ///
    /// ```
    /// use st_core::{Tensor, Device};
    /// let w = Tensor::ones([2, 2], st_core::DType::F32, &Device::cpu())?.requires_grad_()?;
    /// assert!(w.requires_grad());
    /// # Ok::<(), st_core::Error>(())
    /// ```
    pub fn requires_grad_(self) -> Result<Tensor> {
        self.set_requires_grad(true)?;
        Ok(self)
    }

    /// The node that produced this tensor, when it was computed with grad mode on.
    pub fn grad_fn(&self) -> Option<Arc<Node>> {
        self.0.grad_fn.lock().clone()
    }

    /// True for tensors not produced by a recorded op.
    pub fn is_leaf(&self) -> bool {
        self.0.grad_fn.lock().is_none()
    }

    /// The accumulated gradient of a leaf, after `backward()`.
    pub fn grad(&self) -> Option<Tensor> {
        self.0.grad.lock().clone()
    }

    /// Clears the accumulated gradient.
    pub fn zero_grad(&self) {
        *self.0.grad.lock() = None;
    }

    /// Backpropagates from this one-element tensor (a loss), accumulating `grad()` on every
    /// leaf that requires grad. The graph is freed afterwards ([`Tensor::backward_opts`] can
    /// keep it, or record the pass for higher derivatives).
    ///
    /// ```
    /// use st_core::{Tensor, Device};
    /// let x = Tensor::from_vec(vec![3.0f64], [1], &Device::cpu())?.requires_grad_()?;
    /// x.mul(&x)?.sum_all()?.backward()?;
    /// assert_eq!(x.grad().unwrap().to_vec::<f64>()?, vec![6.0]);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Autograd`] when the tensor does not require grad, has more than one element,
    /// or its graph was already freed.
    pub fn backward(&self) -> Result<()> {
        crate::autograd::backward(self, None)
    }

    /// Backpropagates with an explicit output gradient `seed` (same shape as `self`).
    pub fn backward_with(&self, seed: &Tensor) -> Result<()> {
        crate::autograd::backward(self, Some(seed))
    }

    /// A tensor sharing storage but cut from the autograd graph.
    pub fn detach(&self) -> Tensor {
        self.view_with_layout(self.0.layout.clone())
    }

    /// Reads every element back to the host, in row-major order.
    ///
    /// # Errors
    /// [`Error::ReadBackDType`] when `T` is not the tensor's dtype; backend errors.
    ///
    /// ```
    /// use st_core::{Tensor, Device};
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2], &Device::cpu())?;
    /// assert_eq!(t.t()?.to_vec::<f32>()?, vec![1.0, 3.0, 2.0, 4.0]);
    /// # Ok::<(), st_core::Error>(())
    /// ```
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype() {
            return Err(Error::ReadBackDType {
                op: "to_vec",
                actual: self.dtype(),
                requested: T::DTYPE,
            });
        }
        let bytes = self.to_bytes()?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    /// Reads every element back as f64, whatever the dtype (bool as 0/1).
    pub fn to_f64_vec(&self) -> Result<Vec<f64>> {
        let bytes = self.to_bytes()?;
        Ok(crate::with_dtype!(self.dtype(), T, {
            bytemuck::pod_collect_to_vec::<u8, T>(&bytes)
                .into_iter()
                .map(|x| x.to_f64())
                .collect()
        }))
    }

    /// The value of a one-element tensor.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] when the tensor does not have exactly one element.
    pub fn to_scalar<T: Element>(&self) -> Result<T> {
        if self.numel() != 1 {
            return Err(Error::InvalidShape {
                op: "to_scalar",
                shape: Box::new(self.shape().clone()),
                reason: "needs exactly one element".into(),
            });
        }
        Ok(self.to_vec::<T>()?[0])
    }

    /// Contiguous little-endian bytes of the elements.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let t = self.contiguous()?;
        let b = backend(t.device().backend())?;
        let guard = t.storage().read();
        b.download(&*guard, t.dtype(), t.layout().offset(), t.numel())
    }

    /// Copies the tensor to `device` (a no-op clone when already there). Gradients flow back
    /// to the source device.
    pub fn to(&self, device: &Device) -> Result<Tensor> {
        if self.device() == *device {
            return Ok(self.clone());
        }
        let bytes = self.to_bytes()?;
        let dst = backend(device.backend())?;
        let storage = dst.upload(device.ordinal(), self.dtype(), &bytes)?;
        let out = Tensor::wrap(
            storage,
            Layout::contiguous(self.shape().clone()),
            self.dtype(),
            *device,
        );
        crate::autograd::record_transfer(self, out)
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tensor[{}; {}; {}]",
            self.shape(),
            self.dtype(),
            self.device()
        )?;
        if self.numel() <= 16 {
            if let Ok(v) = self.to_f64_vec() {
                write!(f, " {v:?}")?;
            }
        }
        if self.requires_grad() {
            write!(f, " (requires_grad)")?;
        }
        Ok(())
    }
}
