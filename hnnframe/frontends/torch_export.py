"""The one way hnnframe runs torch's two ONNX exporters: quietly, with weights, and with the
symbolics transformers' models need. Graph sources (:mod:`.export`), tool-made copies
(:mod:`hnnframe.variants`) and the weight tier's copies (:mod:`hnnframe.weights.copies`) all
export through :func:`ts_export` and :func:`dynamo_export`.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
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


def _args(x: Any) -> tuple[Any, ...]:
    """The exporters' positional arguments: one tensor, or a tuple of them (transformers)."""
    return x if isinstance(x, tuple) else (x,)


def ts_export(
    module: Any,
    x: Any,
    opset: int = 17,
    training: Any = None,
    do_constant_folding: bool = False,
    dynamic_batch: bool = False,
    input_names: Sequence[str] | None = None,
    output_name: str = "output",
) -> Any:
    """torch.onnx.export with the TorchScript exporter, returning the ModelProto with weights.

    ``x`` is one tensor (its input is named ``input``) or a tuple of tensors, named by
    ``input_names`` (default ``input_0``, ``input_1``, ...).
    """
    import onnx
    import torch

    args = _args(x)
    names = list(
        input_names or (["input"] if len(args) == 1 else [f"input_{k}" for k in range(len(args))])
    )
    register_symbolics()
    buf = io.BytesIO()
    kwargs: dict[str, Any] = {}
    if dynamic_batch:
        kwargs["dynamic_axes"] = {**{n: {0: "batch"} for n in names}, output_name: {0: "batch"}}
    with torch.no_grad(), warnings.catch_warnings(), quiet_fds():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            buf,
            dynamo=False,
            opset_version=opset,
            training=torch.onnx.TrainingMode.PRESERVE if training is None else training,
            do_constant_folding=do_constant_folding,
            input_names=names,
            output_names=[output_name],
            **kwargs,
        )
    return onnx.load_from_string(buf.getvalue())


_SYMBOLICS: list[bool] = []


def register_symbolics() -> None:
    """Teach the TorchScript exporter ``aten::diff`` and boolean ``aten::cumsum`` (once per
    process).

    transformers' mask code (``find_packed_sequence_indices``) calls ``torch.diff`` on the
    position ids while tracing, then sums a boolean tensor; the TorchScript exporter has no
    symbolic for the first and exports the second as a CumSum of booleans, which onnxruntime
    rejects; the dynamo exporter gets both right. ``diff(x, n=1, dim, prepend)`` is
    ``x[1:] - x[:-1]`` along ``dim`` after concatenating ``prepend``: the same Slice/Sub nodes
    the dynamo exporter emits; a boolean is cast to int64 before its CumSum, as torch sums it.
    """
    if _SYMBOLICS:
        return
    import torch
    from torch.onnx import symbolic_helper as sh

    def diff(g: Any, x: Any, n: Any, dim: Any, prepend: Any, append: Any) -> Any:
        if sh._get_const(n, "i", "n") != 1:
            return sh._unimplemented("diff", "n != 1")
        axis = sh._get_const(dim, "i", "dim")
        parts = [p for p in (prepend, x, append) if not sh._is_none(p)]
        if len(parts) > 1:
            x = g.op("Concat", *parts, axis_i=axis)

        def cut(start: int, end: int) -> Any:
            def const(v: int) -> Any:
                return g.op("Constant", value_t=torch.tensor([v], dtype=torch.long))

            return g.op("Slice", x, const(start), const(end), const(axis))

        return g.op("Sub", cut(1, 2**62), cut(0, -1))

    def cumsum(g: Any, x: Any, dim: Any, dtype: Any) -> Any:
        from onnx import TensorProto
        from torch.onnx import symbolic_opset11

        if sh._is_bool(x):  # torch sums booleans as int64
            x = g.op("Cast", x, to_i=TensorProto.INT64)
        return symbolic_opset11.cumsum(g, x, dim, dtype)

    torch.onnx.register_custom_op_symbolic("aten::diff", diff, 9)
    torch.onnx.register_custom_op_symbolic("aten::cumsum", cumsum, 11)
    _SYMBOLICS.append(True)


def dynamo_export(
    module: Any,
    x: Any,
    opset: int = 18,
    optimize: bool = True,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
) -> Any:
    """torch.onnx.export with the dynamo exporter, returning the ModelProto with weights.

    ``x`` is one tensor or a tuple of tensors; unnamed inputs and outputs keep the
    exporter's names.
    """
    import torch

    names = {"input_names": input_names, "output_names": output_names}
    with torch.no_grad(), warnings.catch_warnings(), quiet_fds():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(
            module,
            _args(x),
            dynamo=True,
            opset_version=opset,
            optimize=optimize,
            verbose=False,
            **{k: list(v) for k, v in names.items() if v is not None},
        )
    return prog.model_proto
