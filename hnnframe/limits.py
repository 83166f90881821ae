"""Bounds on what one upload may make hnnframe read, allocate or spend (docs/index-guide.md,
"Security").

Every size an upload declares (ONNX dims, safetensors shapes and offsets, GGUF tensor info, a
config's layer counts and widths) is checked against the bytes present and against these
limits *before* anything is allocated, so a 64-byte file that claims a 10^12-element tensor
costs nothing. A value over a limit is one :class:`~hnnframe.errors.LimitError` naming the file
and the limit (and the flag that raises it).

The limits in force live in a context variable: the CLI sets them from its flags
(``--max-tensor``, ``--max-params``, ``--max-nodes``, ``--max-layers``, ``--max-seconds``) with
:func:`applied`, and readers ask :func:`current` wherever they are, in a thread of a server as
in a command. The time limit is cooperative: readers call :func:`check_time` between tensors
and between stages, so a model is stopped at the next such point once its seconds are spent.
"""

from __future__ import annotations

import contextvars
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from typing import Any

from hnnframe.errors import LimitError, ModelLoadError


@dataclass(frozen=True)
class Limits:
    """What one model may cost. Defaults fit the largest public models (a 405B Llama has 126
    layers, widths up to 53,248 and a largest tensor of about 2.1G elements), with room.

    Attributes:
        max_tensor: Elements of the largest single tensor read.
        max_params: Elements read over all of one model's tensors.
        max_nodes: Nodes of one ONNX graph (exported or uploaded).
        max_layers: A config's layer count (each ``*layers*``/``depth`` field, and their sum).
        max_width: Any other size field of a config (hidden, intermediate, vocabulary, ...).
        max_seconds: Wall-clock seconds for one model's structure, and again for its weights
            (0: no limit).
    """

    max_tensor: int = 4_000_000_000
    max_params: int = 2_000_000_000_000
    max_nodes: int = 2_000_000
    max_layers: int = 1_024
    max_width: int = 1 << 30
    max_seconds: float = 1_800.0

    def with_values(self, **values: Any) -> Limits:
        """A copy with the given (non-``None``) fields changed."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


#: The flag of each limit, for error messages and the CLI.
FLAGS = {f.name: "--" + f.name.replace("_", "-") for f in fields(Limits)}

#: Dimensions a tensor may declare (ONNX and numpy stop at 64 too).
MAX_RANK = 64
_SATURATED = 1 << 80

_DEFAULT = Limits()
_CURRENT: contextvars.ContextVar[Limits | None] = contextvars.ContextVar("hnn_limits", default=None)
_DEADLINE: contextvars.ContextVar[tuple[float, str] | None] = contextvars.ContextVar(
    "hnn_deadline", default=None
)


def current() -> Limits:
    """The limits in force here."""
    return _CURRENT.get() or _DEFAULT


@contextmanager
def applied(limits: Limits) -> Iterator[Limits]:
    """Put ``limits`` in force inside the block (this thread or task only)."""
    token = _CURRENT.set(limits)
    try:
        yield limits
    finally:
        _CURRENT.reset(token)


def over(what: str, name: str, value: int | float, path: Any) -> LimitError:
    """The one-line error for ``value`` above the limit ``name`` while reading ``path``."""
    limit = getattr(current(), name)
    return LimitError(
        f"{os.fspath(path)}: {what} {value:,} is over the limit {limit:,} ({FLAGS[name]} raises it)"
    )


def check(name: str, value: int, path: Any, what: str) -> None:
    """Raise :func:`over` when ``value`` exceeds the limit ``name`` (a :class:`Limits` field)."""
    limit = getattr(current(), name)
    if limit and value > limit:
        raise over(what, name, value, path)


@contextmanager
def deadline(path: Any) -> Iterator[None]:
    """Start the clock of ``max_seconds`` for one model (nested blocks keep the outer clock)."""
    if _DEADLINE.get() is not None or not current().max_seconds:
        yield
        return
    token = _DEADLINE.set((time.monotonic() + current().max_seconds, os.fspath(path)))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def check_time() -> None:
    """Raise :class:`LimitError` when the current model's seconds are spent."""
    d = _DEADLINE.get()
    if d is not None and time.monotonic() > d[0]:
        raise LimitError(
            f"{d[1]}: reading took longer than the limit of {current().max_seconds:g} s "
            f"({FLAGS['max_seconds']} raises it)"
        )


def element_count(shape: Any, path: Any, name: str) -> int:
    """The number of elements of a declared shape, in exact integers (no overflow), after
    checking that every dimension is a non-negative integer.

    Raises:
        ModelLoadError: a dimension is negative or not an integer.
    """
    if not isinstance(shape, list | tuple) or len(shape) > MAX_RANK:
        raise ModelLoadError(f"{os.fspath(path)}: tensor {name!r} has a bad shape")
    count = 1
    for d in shape:
        if isinstance(d, bool) or not isinstance(d, int) or d < 0:
            raise ModelLoadError(f"{os.fspath(path)}: tensor {name!r} has a bad shape")
        # Saturate: a product of huge declared dims would otherwise be a huge integer.
        count = min(count * d, _SATURATED)
    return count
