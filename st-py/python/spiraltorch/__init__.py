"""SpiralTorch for Python: a PyTorch-like tensor API over the Rust core.

``import spiraltorch as st``; tensors are ``st.Tensor``; creation functions, dtypes and
devices follow PyTorch's names.
"""

from __future__ import annotations

from . import _C
from ._C import (  # noqa: F401
    Tensor,
    dtype,
    device,
    float32,
    float64,
    float16,
    bfloat16,
    int32,
    int64,
    uint8,
    bool,
    float,
    double,
    half,
    int,
    long,
    tensor,
    as_tensor,
    from_numpy,
    zeros,
    ones,
    empty,
    full,
    zeros_like,
    ones_like,
    empty_like,
    full_like,
    rand_like,
    randn_like,
    arange,
    linspace,
    eye,
    rand,
    randn,
    randint,
    manual_seed,
    cat,
    stack,
    where,
    is_grad_enabled,
)
from ._grad_mode import no_grad, enable_grad, set_grad_enabled  # noqa: F401
from . import autograd  # noqa: F401

__version__ = "0.1.0"

concat = cat


def _dtype_from_name(name: str) -> dtype:
    return getattr(_C, name)


def _method(name: str):
    def fn(input: Tensor, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)

    fn.__name__ = name
    fn.__qualname__ = name
    fn.__doc__ = f"``st.{name}(input, ...)`` is ``input.{name}(...)``."
    return fn


# Module-level forms of the tensor methods (st.exp(x) == x.exp()).
_FUNCTIONS = (
    "neg negative abs absolute exp log sqrt rsqrt sin cos tanh sigmoid relu silu erf floor "
    "ceil round sign reciprocal logical_not gelu clamp clip softmax log_softmax add sub mul "
    "multiply div divide true_divide floor_divide remainder pow matmul mm eq ne lt le gt ge "
    "maximum minimum bitwise_and bitwise_or bitwise_xor logical_and logical_or logical_xor "
    "sum mean prod amax amin max min argmax argmin var std logsumexp split chunk "
    "index_select gather scatter_add masked_fill reshape permute transpose swapaxes t "
    "unsqueeze squeeze flatten ravel narrow select clone broadcast_to numel"
).split()

for _name in _FUNCTIONS:
    globals()[_name] = _method(_name)
del _name


def is_tensor(obj: object) -> bool:
    """True for spiraltorch tensors."""
    return isinstance(obj, Tensor)
