"""``st.autograd``: ``grad`` (PyTorch's ``torch.autograd.grad``) and the grad-mode classes."""

from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

from . import _C
from ._C import Tensor
from ._grad_mode import enable_grad, no_grad, set_grad_enabled  # noqa: F401

_Tensors = Union[Tensor, Sequence[Tensor]]


def grad(
    outputs: _Tensors,
    inputs: _Tensors,
    grad_outputs: Optional[_Tensors] = None,
    retain_graph: Optional[bool] = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> Tuple[Optional[Tensor], ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, nothing accumulated."""
    return tuple(
        _C.autograd_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused)
    )


def backward(tensors: _Tensors, grad_tensors: Optional[_Tensors] = None) -> None:
    """``tensors[i].backward(grad_tensors[i])`` for each tensor."""
    ts = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None:
        gs = [None] * len(ts)
    elif isinstance(grad_tensors, Tensor):
        gs = [grad_tensors]
    else:
        gs = list(grad_tensors)
    for t, g in zip(ts, gs):
        t.backward(g, retain_graph=True)
