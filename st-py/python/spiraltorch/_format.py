"""``repr(tensor)`` in PyTorch's style: ``tensor([1., 2.])``, with dtype/device/grad suffixes."""

from __future__ import annotations

import math

_DEFAULT = {"float32", "int64", "bool"}


def _fmt_floats(vals: list) -> list:
    finite = [v for v in vals if math.isfinite(v)]
    if finite and all(v == int(v) for v in finite) and max(abs(v) for v in finite) < 1e8:
        return [_special(v) or f"{v:.0f}." for v in vals]
    big = max((abs(v) for v in finite), default=0.0)
    small = min((abs(v) for v in finite if v != 0), default=1.0)
    if big >= 1e8 or small < 1e-4:
        return [_special(v) or f"{v:.4e}" for v in vals]
    return [_special(v) or f"{v:.4f}" for v in vals]


def _special(v: float):
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def _nest(flat: list, dims: tuple, indent: int) -> str:
    if not dims:
        return flat[0]
    if len(dims) == 1:
        return "[" + ", ".join(flat) + "]"
    n = dims[0]
    step = len(flat) // n if n else 0
    rows = [_nest(flat[i * step:(i + 1) * step], dims[1:], indent + 1) for i in range(n)]
    sep = "," + "\n" * (len(dims) - 1) + " " * (indent + 1)
    return "[" + sep.join(rows) + "]"


def tensor_repr(t) -> str:
    dims = tuple(t.shape)
    name = str(t.dtype).split(".")[-1]
    vals = t.detach().reshape(-1).tolist() if t.numel() else []
    if t.ndim == 0:
        vals = [t.detach().item()]
    if name in ("float32", "float64", "float16", "bfloat16"):
        flat = _fmt_floats([float(v) for v in vals])
    elif name == "bool":
        flat = ["True" if v else "False" for v in vals]
    else:
        flat = [str(v) for v in vals]
    width = max((len(s) for s in flat), default=0)
    flat = [s.rjust(width) for s in flat]
    body = _nest(flat, dims, len("tensor(")) if t.numel() else "[]"
    extras = []
    if str(t.device) != "cpu":
        extras.append(f"device='{t.device}'")
    if name not in _DEFAULT or (t.numel() == 0 and name != "float32"):
        extras.append(f"dtype=spiraltorch.{name}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    if t.numel() == 0 and dims != (0,):
        extras.insert(0, f"size={dims}")
    return "tensor(" + body + "".join(", " + e for e in extras) + ")"
