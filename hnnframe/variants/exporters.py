"""The two torch exporters, run quietly, and the small ONNX helpers the transforms share."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def quiet_fds() -> Iterator[None]:
    """Silence stdout and stderr at the file-descriptor level.

    The TorchScript exporter logs the whole TorchScript graph from C++ when an export fails
    (torch enables its ONNX log unconditionally), which Python's redirection cannot catch.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def ts_export(
    module: Any,
    x: Any,
    opset: int = 17,
    training: Any = None,
    do_constant_folding: bool = False,
    dynamic_batch: bool = False,
) -> Any:
    """torch.onnx.export with the TorchScript exporter, returning the ModelProto with weights."""
    import onnx
    import torch

    buf = io.BytesIO()
    kwargs: dict[str, Any] = {}
    if dynamic_batch:
        kwargs["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
    with torch.no_grad(), warnings.catch_warnings(), quiet_fds():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (x,),
            buf,
            dynamo=False,
            opset_version=opset,
            training=torch.onnx.TrainingMode.PRESERVE if training is None else training,
            do_constant_folding=do_constant_folding,
            input_names=["input"],
            output_names=["output"],
            **kwargs,
        )
    return onnx.load_from_string(buf.getvalue())


def dynamo_export(module: Any, x: Any, opset: int = 18, optimize: bool = True) -> Any:
    """torch.onnx.export with the dynamo exporter, returning the ModelProto with weights."""
    import torch

    with torch.no_grad(), warnings.catch_warnings(), quiet_fds():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(
            module, (x,), dynamo=True, opset_version=opset, optimize=optimize, verbose=False
        )
    return prog.model_proto


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
