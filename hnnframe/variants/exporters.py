"""The small ONNX helpers the transforms share, beside the torch exporters they run (which
live in :mod:`hnnframe.frontends.torch_export`, the one export helper)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any


def input_name(model: Any) -> str:
    """The name of the model's first graph input that is not an initializer."""
    inits = {t.name for t in model.graph.initializer}
    return next(i.name for i in model.graph.input if i.name not in inits)


def input_shape(model: Any) -> list[int]:
    """The shape of that input, symbolic dimensions read as 1."""
    inits = {t.name for t in model.graph.initializer}
    vi = next(i for i in model.graph.input if i.name not in inits)
    return [d.dim_value if d.dim_value > 0 else 1 for d in vi.type.tensor_type.shape.dim]


def static_shapes(model: Any) -> dict[str, list[int]]:
    """Tensor name -> shape, for every input, value_info and output with a fully known shape."""
    out: dict[str, list[int]] = {}
    for vi in [*model.graph.input, *model.graph.value_info, *model.graph.output]:
        t = vi.type.tensor_type
        if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
            out[vi.name] = [d.dim_value for d in t.shape.dim]
    return out


def run_quiet(fn: Callable[[], Any]) -> Any:
    """Run a tool with Python warnings and onnxruntime's logging silenced."""
    import logging

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    finally:
        root.setLevel(level)


def rewire_input(graph: Any, old: str, new: str) -> None:
    """Let every node that reads tensor ``old`` read ``new`` instead (in place)."""
    for node in graph.node:
        node.input[:] = [new if i == old else i for i in node.input]


def reparsed(model: Any) -> Any:
    """``model`` (edited by hand) without its value_info, serialised and parsed again.

    The edits leave inferred shapes stale, so they are dropped; the round trip gives a fresh,
    self-contained ModelProto, as a tool that writes a file would.
    """
    import onnx

    del model.graph.value_info[:]
    return onnx.ModelProto.FromString(model.SerializeToString())
