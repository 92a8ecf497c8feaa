"""Grad-mode context managers: ``no_grad``, ``enable_grad`` and ``set_grad_enabled``.

Each works as a context manager and as a decorator, as in PyTorch. Grad mode is per thread.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

from . import _C

F = TypeVar("F", bound=Callable[..., Any])


class _GradMode:
    _mode: bool = True

    def __init__(self) -> None:
        self._prev: list = []

    def __enter__(self) -> None:
        self._prev.append(_C.set_grad_enabled(self._mode))

    def __exit__(self, *exc: object) -> None:
        _C.set_grad_enabled(self._prev.pop())

    def __call__(self, func: F) -> F:
        mode = self._mode

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = _C.set_grad_enabled(mode)
            try:
                return func(*args, **kwargs)
            finally:
                _C.set_grad_enabled(prev)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):
    """Disables gradient recording (``with st.no_grad():`` or ``@st.no_grad()``)."""

    _mode = False


class enable_grad(_GradMode):
    """Enables gradient recording, also inside ``no_grad``."""

    _mode = True


class set_grad_enabled(_GradMode):
    """Sets grad mode to ``mode``: at once when called, and until exit as a context manager."""

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self._mode = mode
        self._entered_prev = _C.set_grad_enabled(mode)

    def __enter__(self) -> None:
        self._prev.append(self._entered_prev)

    def __exit__(self, *exc: object) -> None:
        _C.set_grad_enabled(self._prev.pop())
