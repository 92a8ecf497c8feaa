//! Custom ops: named ops that a crate or plugin adds at run time (PyTorch's `TORCH_LIBRARY`).
//!
//! A [`CustomOp`] carries everything the dispatcher needs to run it like a built-in op: the
//! shape and dtype inference, the kernels per (backend, dtype), whether inputs are promoted
//! to one dtype and broadcast to the output shape, and optionally a backward rule, a reference
//! written in built-in tensor ops and conformance samples. It is registered with
//! [`register_op`](crate::dispatch::register_op) (or a plugin's
//! [`PluginContext::register_op`](crate::plugin::PluginContext::register_op)) and called with
//! [`call_op`](crate::dispatch::call_op).
//!
//! Note [Custom kernels write into host memory]: a custom kernel never allocates its output;
//! the dispatcher allocates it through the device's [`Backend`](crate::backend::Backend) and
//! hands it over as a [`KernelOut`]. So every buffer a custom op produces belongs to the host's
//! backend, also when the kernel lives in a dynamic plugin library that may be unloaded later,
//! and a CPU kernel reaches the bytes through
//! [`DeviceBuffer::host_bytes`](crate::backend::DeviceBuffer::host_bytes), which runs the
//! host's code.

use crate::device::Device;
use crate::dispatch::{KernelCaps, KernelInput, KernelOut};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::tensor::Tensor;
use std::sync::Arc;

/// One attribute value of a custom op call.
#[derive(Clone, Debug, PartialEq)]
pub enum Attr {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A flag.
    Bool(bool),
    /// A list of integers (dims, sizes).
    Ints(Vec<i64>),
}

/// The non-tensor arguments of a custom op call, by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attrs(Vec<(String, Attr)>);

impl Attrs {
    /// No attributes.
    pub fn new() -> Attrs {
        Attrs(Vec::new())
    }

    /// Adds (or replaces) attribute `name`.
    pub fn with(mut self, name: &str, value: Attr) -> Attrs {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_string(), value)),
        }
        self
    }

    /// Adds a float attribute.
    pub fn float(self, name: &str, v: f64) -> Attrs {
        self.with(name, Attr::Float(v))
    }

    /// Adds an integer attribute.
    pub fn int(self, name: &str, v: i64) -> Attrs {
        self.with(name, Attr::Int(v))
    }

    /// Adds a flag.
    pub fn flag(self, name: &str, v: bool) -> Attrs {
        self.with(name, Attr::Bool(v))
    }

    /// Adds an integer-list attribute.
    pub fn ints(self, name: &str, v: &[i64]) -> Attrs {
        self.with(name, Attr::Ints(v.to_vec()))
    }

    /// The attribute `name`, if given.
    pub fn get(&self, name: &str) -> Option<&Attr> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Every attribute, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Attr)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }

    fn missing(op: &'static str, name: &str, what: &str) -> Error {
        Error::invalid(op, format!("needs {what} attribute '{name}'"))
    }

    /// Float attribute `name` (an integer one converts), for op `op`'s errors.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the op when it is missing or not a number.
    pub fn get_float(&self, op: &'static str, name: &str) -> Result<f64> {
        match self.get(name) {
            Some(Attr::Float(v)) => Ok(*v),
            Some(Attr::Int(v)) => Ok(*v as f64),
            _ => Err(Self::missing(op, name, "a float")),
        }
    }

    /// Integer attribute `name`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the op when it is missing or not an integer.
    pub fn get_int(&self, op: &'static str, name: &str) -> Result<i64> {
        match self.get(name) {
            Some(Attr::Int(v)) => Ok(*v),
            _ => Err(Self::missing(op, name, "an integer")),
        }
    }

    /// Flag `name`, `default` when absent.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the op when it is given but not a flag.
    pub fn get_flag(&self, op: &'static str, name: &str, default: bool) -> Result<bool> {
        match self.get(name) {
            None => Ok(default),
            Some(Attr::Bool(v)) => Ok(*v),
            Some(_) => Err(Self::missing(op, name, "a boolean")),
        }
    }
}

/// What a custom kernel is given: the (promoted, broadcast, possibly made contiguous) inputs,
/// the attributes and the output's shape and dtype. The output is written into
/// [`KernelOut`] (contiguous, freshly allocated; see Note [Custom kernels write into host
/// memory]).
pub struct CustomArgs<'a> {
    /// The op's name (`"myns::fused_bias_gelu"`).
    pub op: &'static str,
    /// Inputs in op order.
    pub inputs: &'a [KernelInput<'a>],
    /// The call's attributes.
    pub attrs: &'a Attrs,
    /// Output shape.
    pub out_shape: &'a Shape,
    /// Output dtype.
    pub out_dtype: DType,
    /// The device everything lives on.
    pub device: Device,
}

/// Shape and dtype inference: from the inputs' shapes and dtypes (after promotion) and the
/// attributes to the output's. Errors name the op, shapes and dtypes.
pub type InferFn = Arc<dyn Fn(&[(&Shape, DType)], &Attrs) -> Result<(Shape, DType)> + Send + Sync>;
/// A custom kernel: writes the op's result into the given output buffer.
pub type CustomKernelFn =
    Arc<dyn Fn(&CustomArgs<'_>, &mut KernelOut<'_>) -> Result<()> + Send + Sync>;
/// A function of the inputs written with tensor ops: a backward rule's forward or a
/// reference.
pub type TensorFn = Arc<dyn Fn(&[Tensor], &Attrs) -> Result<Tensor> + Send + Sync>;
/// Conformance samples: input tensors (on the CPU) with the attributes of each call.
pub type SamplesFn = Arc<dyn Fn() -> Result<Vec<(Vec<Tensor>, Attrs)>> + Send + Sync>;

/// What a backward rule is given.
pub struct BackwardArgs<'a> {
    /// The inputs as the kernel got them (promoted, not broadcast).
    pub inputs: &'a [Tensor],
    /// The op's output.
    pub output: &'a Tensor,
    /// The gradient of the output.
    pub grad: &'a Tensor,
    /// The call's attributes.
    pub attrs: &'a Attrs,
}

/// A backward rule: one gradient per input (with the input's shape), or `None` for inputs
/// that carry none.
pub type BackwardFn = Arc<dyn Fn(&BackwardArgs<'_>) -> Result<Vec<Option<Tensor>>> + Send + Sync>;

/// One registered kernel of a custom op.
#[derive(Clone)]
pub struct CustomKernel {
    /// Backend name (`"cpu"`, `"wgpu"`).
    pub backend: String,
    /// Dispatch dtypes (the dtype of the first input after promotion).
    pub dtypes: Vec<DType>,
    /// The kernel.
    pub kernel: CustomKernelFn,
    /// What it can handle.
    pub caps: KernelCaps,
}

/// How the gradient of a custom op is computed.
#[derive(Clone)]
pub enum Backward {
    /// A rule written with tensor ops (the graph builder's choice for link-time crates).
    Rule(BackwardFn),
    /// Other custom ops, one per input (`None`: no gradient): op `k` takes the inputs, then
    /// the output gradient, and returns the gradient of input `k`, at the input's shape or at
    /// a shape it broadcasts to (the host then sums the broadcast dims). One op may serve
    /// several inputs. The host runs them, so this is the form for dynamic plugins (Note
    /// [Custom kernels write into host memory]).
    Ops(Vec<Option<String>>),
}

/// A named op: inference, kernels, and the optional backward, reference and samples.
#[derive(Clone)]
pub struct CustomOp {
    pub(crate) name: String,
    pub(crate) arity: usize,
    pub(crate) infer: Option<InferFn>,
    pub(crate) promote: bool,
    pub(crate) broadcast: bool,
    pub(crate) kernels: Vec<CustomKernel>,
    pub(crate) backward: Option<Backward>,
    pub(crate) reference: Option<TensorFn>,
    pub(crate) samples: Option<SamplesFn>,
}

impl CustomOp {
    /// A new op `name` (`"namespace::op"`) taking `arity` tensors. It needs inference
    /// ([`CustomOp::infer`] or [`CustomOp::elementwise`]) and at least one kernel.
    pub fn new(name: &str, arity: usize) -> CustomOp {
        CustomOp {
            name: name.to_string(),
            arity,
            infer: None,
            promote: false,
            broadcast: false,
            kernels: Vec::new(),
            backward: None,
            reference: None,
            samples: None,
        }
    }

    /// An elementwise op: inputs are promoted to one dtype (PyTorch's rules) and broadcast;
    /// the output has the broadcast shape and the promoted dtype.
    pub fn elementwise(mut self) -> CustomOp {
        self.promote = true;
        self.broadcast = true;
        let op = self.name.clone();
        self.infer = Some(Arc::new(move |ins, _| {
            let op = crate::dispatch::intern(&op);
            let mut shape = Shape::scalar();
            let mut dtype: Option<DType> = None;
            for (s, d) in ins {
                shape = Shape::broadcast(op, &shape, s)?;
                dtype = Some(dtype.map_or(*d, |p| DType::promote(p, *d)));
            }
            Ok((shape, dtype.unwrap_or(DType::F32)))
        }));
        self
    }

    /// The shape and dtype inference.
    pub fn infer(
        mut self,
        f: impl Fn(&[(&Shape, DType)], &Attrs) -> Result<(Shape, DType)> + Send + Sync + 'static,
    ) -> CustomOp {
        self.infer = Some(Arc::new(f));
        self
    }

    /// Promote every input to the inputs' common dtype before inference and the kernel.
    pub fn promote(mut self, on: bool) -> CustomOp {
        self.promote = on;
        self
    }

    /// Broadcast every input to the output shape before the kernel runs.
    pub fn broadcast(mut self, on: bool) -> CustomOp {
        self.broadcast = on;
        self
    }

    /// A kernel for `backend` and `dtypes` that accepts strided inputs.
    pub fn kernel(
        self,
        backend: &str,
        dtypes: &[DType],
        f: impl Fn(&CustomArgs<'_>, &mut KernelOut<'_>) -> Result<()> + Send + Sync + 'static,
    ) -> CustomOp {
        self.kernel_with_caps(backend, dtypes, KernelCaps::STRIDED, f)
    }

    /// A kernel with explicit capabilities (`KernelCaps::CONTIGUOUS`: inputs are made
    /// contiguous first).
    pub fn kernel_with_caps(
        mut self,
        backend: &str,
        dtypes: &[DType],
        caps: KernelCaps,
        f: impl Fn(&CustomArgs<'_>, &mut KernelOut<'_>) -> Result<()> + Send + Sync + 'static,
    ) -> CustomOp {
        self.kernels.push(CustomKernel {
            backend: backend.to_string(),
            dtypes: dtypes.to_vec(),
            kernel: Arc::new(f),
            caps,
        });
        self
    }

    /// The backward rule, written with tensor ops.
    pub fn backward(
        mut self,
        f: impl Fn(&BackwardArgs<'_>) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
    ) -> CustomOp {
        self.backward = Some(Backward::Rule(Arc::new(f)));
        self
    }

    /// The backward as other custom ops, one per input (see [`Backward::Ops`]).
    pub fn backward_ops(mut self, ops: &[Option<&str>]) -> CustomOp {
        self.backward = Some(Backward::Ops(
            ops.iter().map(|o| o.map(str::to_string)).collect(),
        ));
        self
    }

    /// The op written with built-in tensor ops: what the conformance runner compares every
    /// kernel with.
    pub fn reference(
        mut self,
        f: impl Fn(&[Tensor], &Attrs) -> Result<Tensor> + Send + Sync + 'static,
    ) -> CustomOp {
        self.reference = Some(Arc::new(f));
        self
    }

    /// Conformance samples (CPU tensors; f64 ones make the gradient check exact).
    pub fn samples(
        mut self,
        f: impl Fn() -> Result<Vec<(Vec<Tensor>, Attrs)>> + Send + Sync + 'static,
    ) -> CustomOp {
        self.samples = Some(Arc::new(f));
        self
    }

    /// The op's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of tensor inputs.
    pub fn arity(&self) -> usize {
        self.arity
    }

    /// Its kernels.
    pub fn kernels(&self) -> &[CustomKernel] {
        &self.kernels
    }

    /// Whether it has a backward.
    pub fn has_backward(&self) -> bool {
        self.backward.is_some()
    }

    /// Its reference, if any.
    pub fn reference_fn(&self) -> Option<&TensorFn> {
        self.reference.as_ref()
    }

    /// Its conformance samples, if any.
    pub fn samples_fn(&self) -> Option<&SamplesFn> {
        self.samples.as_ref()
    }

    /// Checks the definition before it is registered.
    ///
    /// # Errors
    /// [`Error::Registry`] for a name that is not `namespace::op` (ASCII letters, digits and
    /// `_`), a missing inference, no kernel, an empty dtype list, or two kernels claiming one
    /// (backend, dtype).
    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |why: &str| Error::Registry(format!("custom op '{}': {why}", self.name));
        let parts: Vec<&str> = self.name.split("::").collect();
        let ident = |p: &str| {
            !p.is_empty()
                && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !p.starts_with(|c: char| c.is_ascii_digit())
        };
        if parts.len() != 2 || !parts.iter().all(|p| ident(p)) {
            return Err(bad(
                "the name must be 'namespace::op' (letters, digits and _)",
            ));
        }
        if self.infer.is_none() {
            return Err(bad(
                "no shape/dtype inference (call .infer or .elementwise)",
            ));
        }
        if self.kernels.is_empty() {
            return Err(bad("no kernel"));
        }
        let mut seen: Vec<(&str, DType)> = Vec::new();
        for k in &self.kernels {
            if k.dtypes.is_empty() {
                return Err(bad(&format!("a {} kernel with no dtype", k.backend)));
            }
            for &dt in &k.dtypes {
                if seen.contains(&(k.backend.as_str(), dt)) {
                    return Err(bad(&format!("two kernels for ({}, {dt})", k.backend)));
                }
                seen.push((&k.backend, dt));
            }
        }
        if let Some(Backward::Ops(ops)) = &self.backward {
            if ops.len() != self.arity {
                return Err(bad(&format!(
                    "{} backward ops for {} inputs",
                    ops.len(),
                    self.arity
                )));
            }
        }
        Ok(())
    }
}
