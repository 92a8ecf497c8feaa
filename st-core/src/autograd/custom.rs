//! Backward of the nodes that are not built-in primitives: custom ops (their own rule, their
//! backward ops, or the error that they have none) and fused overrides of composite ops
//! (the composite, recomputed and differentiated).

use super::backward::{grad, GradOptions};
use super::engine::Rule;
use super::grad_mode::{is_grad_enabled, set_grad_enabled};
use crate::dispatch::custom::call_entry;
use crate::dispatch::custom_op::{Backward, BackwardArgs};
use crate::dispatch::{composite_only, custom_ops};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Gradients of the inputs of a custom or fused node (one entry per input).
///
/// # Errors
/// [`Error::Autograd`] naming the op when it has no backward, when a backward op is not
/// registered, or when the rule returns the wrong number of gradients; errors of the rule.
pub(super) fn backward(
    rule: &Rule,
    inputs: &[Tensor],
    y: &Tensor,
    g: &Tensor,
) -> Result<Vec<Option<Tensor>>> {
    match rule {
        Rule::Op(op, _) => Err(Error::Internal(format!(
            "{op} has a built-in backward rule"
        ))),
        Rule::Custom(entry, attrs) => {
            let name = entry.name;
            let grads = match &entry.op.backward {
                None => {
                    return Err(Error::Autograd(format!(
                        "custom op {name} has no backward rule, and one of its inputs requires \
                         grad (register one with CustomOp::backward or CustomOp::backward_ops)"
                    )))
                }
                Some(Backward::Rule(f)) => f(&BackwardArgs {
                    inputs,
                    output: y,
                    grad: g,
                    attrs,
                })?,
                Some(Backward::Ops(ops)) => {
                    let mut args: Vec<&Tensor> = inputs.iter().collect();
                    args.push(g);
                    let mut out = Vec::with_capacity(ops.len());
                    for (k, o) in ops.iter().enumerate() {
                        let Some(o) = o.as_deref() else {
                            out.push(None);
                            continue;
                        };
                        if !inputs[k].requires_grad() {
                            out.push(None);
                            continue;
                        }
                        let e = custom_ops().get(o).ok_or_else(|| {
                            Error::Autograd(format!(
                                "custom op {name}: its backward op {o} (input {k}) is not \
                                 registered"
                            ))
                        })?;
                        // A broadcast input's gradient is summed to its shape here.
                        let gk = call_entry(&e, &args, attrs)?;
                        let want = inputs[k].shape();
                        out.push(Some(if gk.shape() == want {
                            gk
                        } else {
                            gk.sum_to_size(want.clone())?
                        }));
                    }
                    out
                }
            };
            if grads.len() != inputs.len() {
                return Err(Error::Autograd(format!(
                    "the backward of custom op {name} returned {} gradients for {} inputs",
                    grads.len(),
                    inputs.len()
                )));
            }
            Ok(grads)
        }
        Rule::Recompute(_, composite) => {
            let create_graph = is_grad_enabled();
            let out = {
                let _on = set_grad_enabled(true);
                composite_only(|| composite(inputs))?
            };
            let wanted: Vec<usize> = (0..inputs.len())
                .filter(|&i| inputs[i].requires_grad())
                .collect();
            let targets: Vec<&Tensor> = wanted.iter().map(|&i| &inputs[i]).collect();
            let mut grads: Vec<Option<Tensor>> = vec![None; inputs.len()];
            if targets.is_empty() || !out.requires_grad() {
                return Ok(grads);
            }
            let got = grad(
                &[&out],
                &targets,
                Some(&[g]),
                GradOptions::default()
                    .create_graph(create_graph)
                    .allow_unused(true),
            )?;
            for (i, gi) in wanted.into_iter().zip(got) {
                grads[i] = gi;
            }
            Ok(grads)
        }
    }
}
