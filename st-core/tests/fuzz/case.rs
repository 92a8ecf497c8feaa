//! One table entry per public operation ([`Entry`]), what a call returned ([`Out`]), the cheap
//! sanity checks on `Ok` results and the backward pass run on results that require grad.

use super::gen::{numel_u128, Gen, CAP};
use st_core::{Layout, Result, Tensor};

/// One fuzzed operation: a name (the method it calls) and a generator that builds random
/// inputs, logs the call with [`Gen::call`] and makes it.
pub struct Entry {
    /// The op under test, as it appears in reports.
    pub name: &'static str,
    /// Builds inputs and calls the op.
    pub run: fn(&mut Gen) -> Result<Out>,
}

/// Builds a `&[Entry]` table: `table![ "exp" => |g| unary(g, Tensor::exp), ... ]`.
macro_rules! table {
    ($($name:expr => $run:expr),* $(,)?) => {
        &[$($crate::fuzz::case::Entry { name: $name, run: $run }),*]
    };
}
pub(crate) use table;

/// What an `Ok` call produced.
pub enum Out {
    /// Tensors to sanity-check (and to backpropagate from).
    Tensors(Vec<Tensor>),
    /// Anything else (sizes, host vectors, unit).
    Value,
}

/// Converts an op's `Ok` value into an [`Out`].
pub trait IntoOut {
    /// The conversion.
    fn into_out(self) -> Out;
}

impl IntoOut for Tensor {
    fn into_out(self) -> Out {
        Out::Tensors(vec![self])
    }
}

impl IntoOut for Vec<Tensor> {
    fn into_out(self) -> Out {
        Out::Tensors(self)
    }
}

impl IntoOut for (Tensor, Tensor) {
    fn into_out(self) -> Out {
        Out::Tensors(vec![self.0, self.1])
    }
}

macro_rules! value_out {
    ($($t:ty),*) => {$(
        impl IntoOut for $t {
            fn into_out(self) -> Out {
                Out::Value
            }
        }
    )*};
}

value_out!((), usize, String, Vec<u8>, Vec<f64>);

/// Wraps an op's result.
pub fn done<T: IntoOut>(r: Result<T>) -> Result<Out> {
    r.map(IntoOut::into_out)
}

/// Lets the harness call constructors that return either `T` or `Result<T>`, so it keeps
/// compiling when a constructor is made fallible (`Tensor::from_storage`, `Layout::from_parts`).
pub trait Fallible<T> {
    /// `Ok(self)` for a plain value, `self` for a result.
    fn fallible(self) -> Result<T>;
}

impl<T> Fallible<T> for Result<T> {
    fn fallible(self) -> Result<T> {
        self
    }
}

impl Fallible<Tensor> for Tensor {
    fn fallible(self) -> Result<Tensor> {
        Ok(self)
    }
}

impl Fallible<Layout> for Layout {
    fn fallible(self) -> Result<Layout> {
        Ok(self)
    }
}

/// Cheap checks on an `Ok` result: the element count matches the dims, strides match the
/// rank, and (for results small enough) the elements read back. `readable` is false for
/// results of user-built layouts, which may legitimately fail to read.
pub fn sanity(g: &mut Gen, out: &Out, readable: bool) {
    let Out::Tensors(ts) = out else { return };
    for (i, t) in ts.iter().take(16).enumerate() {
        let dims = t.dims().to_vec();
        let exact = numel_u128(&dims);
        if exact != Some(t.numel() as u128) {
            g.fail(
                "numel() disagrees with dims",
                format!(
                    "output {i}: numel() = {} but dims {dims:?} hold {exact:?} elements",
                    t.numel()
                ),
            );
            continue;
        }
        if t.strides().len() != dims.len() {
            g.fail(
                "strides do not match the rank",
                format!(
                    "output {i}: {} strides for rank {}",
                    t.strides().len(),
                    dims.len()
                ),
            );
            continue;
        }
        if readable && t.numel() <= CAP {
            match t.to_f64_vec() {
                Ok(v) if v.len() == t.numel() => {}
                Ok(v) => g.fail(
                    "read-back has the wrong length",
                    format!(
                        "output {i}: to_f64_vec gave {} values for {} elements",
                        v.len(),
                        t.numel()
                    ),
                ),
                Err(e) => g.fail(
                    "an Ok result cannot be read back",
                    format!("output {i} ({dims:?}): {e}"),
                ),
            }
        }
    }
}

/// Backpropagates from the first output that requires grad, in one of several ways (some of
/// which must fail: non-scalar roots, mismatched seeds, a second backward), then checks that
/// every leaf's gradient has the leaf's shape.
pub fn backward(g: &mut Gen, out: &Out) -> Result<()> {
    let Out::Tensors(ts) = out else { return Ok(()) };
    let Some(y) = ts
        .iter()
        .find(|t| t.requires_grad() && t.numel() <= CAP)
        .cloned()
    else {
        return Ok(());
    };
    let r = match g.int(0, 9) {
        0..=4 => {
            g.line("out.sum_all()?.backward()?;".into());
            y.sum_all()?.backward()
        }
        5 => {
            g.line("out.backward()?;".into());
            y.backward()
        }
        6 => {
            g.line("out.backward_with(&Tensor::ones_like(&out)?)?;".into());
            y.backward_with(&Tensor::ones_like(&y)?)
        }
        7 => {
            let d = g.dims(super::gen::Pool::Tiny);
            let dt = g.dtype();
            let seed = g.tensor(&d, dt)?;
            g.line(format!("out.backward_with(&{})?;", seed.n));
            y.backward_with(&seed.t)
        }
        8 => {
            g.line("out.mean(&[], false)?.backward()?;".into());
            y.mean(&[], false)?.backward()
        }
        _ => {
            g.line("let l = out.sum_all()?; l.backward()?; l.backward()?;".into());
            let l = y.sum_all()?;
            l.backward()?;
            l.backward()
        }
    };
    let leaves: Vec<(String, Tensor)> = g
        .leaves
        .iter()
        .map(|v| (v.n.clone(), v.t.clone()))
        .collect();
    for (n, leaf) in leaves {
        if let Some(gr) = leaf.grad() {
            if gr.dims() != leaf.dims() {
                g.fail(
                    "grad shape differs from the leaf",
                    format!(
                        "{n}.grad() has dims {:?}, the leaf {:?}",
                        gr.dims(),
                        leaf.dims()
                    ),
                );
            } else if gr.numel() <= CAP {
                if let Err(e) = gr.to_f64_vec() {
                    g.fail("grad cannot be read back", format!("{n}.grad(): {e}"));
                }
            }
        }
    }
    r
}
