"""Exporting a torch module to the ONNX that the rest of hnnframe reads (f_onnx, section 3.2.1).

:func:`export_module` is the TorchScript exporter with BatchNormalization kept;
:func:`strip_weights` drops weight values but keeps their dims; :func:`prepare` infers shapes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from hnnframe.errors import ExportError, ModelLoadError
from hnnframe.frontends.torch_export import dynamo_export, ts_export
from hnnframe.frontends.torchvision import torchvision_input_size

DEFAULT_OPSET = 17


def trigger_input(name: str = "", shape: tuple[int, ...] | None = None) -> Any:
    """The paper's trigger: a zero tensor of batch size 1 (section 4.1.1)."""
    import torch

    if shape is None:
        shape = (1, *torchvision_input_size(name))
    return torch.zeros(*shape)


@contextlib.contextmanager
def exportable_attention() -> Iterator[None]:
    """Turn off ``nn.MultiheadAttention``'s inference fast path while exporting.

    In eval mode under ``no_grad`` torch runs MHA as one fused ``_native_multi_head_attention``
    call, which no ONNX exporter can translate (torchvision's ViTs fail on it); the ordinary
    path exports the same computation as ONNX operators.
    """
    import torch

    was = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(was)


def export_module(
    module: Any,
    example_input: Any = None,
    name: str = "",
    opset: int = DEFAULT_OPSET,
    dynamo: bool = False,
) -> Any:
    """Export an nn.Module (or ScriptModule) to ONNX with BatchNormalization nodes kept.

    The TorchScript exporter is the default: it is ~4x faster than the dynamo exporter here
    and, with ``training=PRESERVE`` and no constant folding, keeps BatchNormalization nodes
    that the paper's merge rules need (the dynamo exporter folds them into Conv).
    """
    module = module.eval()
    x = trigger_input(name) if example_input is None else example_input
    try:
        with exportable_attention():
            if dynamo:
                proto = dynamo_export(module, x, opset=max(opset, 18))
            else:  # training=PRESERVE, no constant folding: BatchNormalization kept
                proto = ts_export(module, x, opset=opset, input_names=["input"])
    except Exception as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExportError(f"cannot export {name or type(module).__name__} to ONNX: {msg}") from e
    proto.graph.name = name or proto.graph.name
    return prepare(strip_weights(proto))


def strip_weights(model: Any) -> Any:
    """Drop initializer values but keep their dims, so structure and parameter counts survive.

    Each stripped tensor is marked as external data in a file that does not exist; readers
    in hnnframe never load external data, so the result reads like any ONNX file whose
    weights were left behind.
    """
    import onnx

    for t in model.graph.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL and not t.raw_data:
            continue
        n = 1
        for d in t.dims:
            n *= d
        # Small integer tensors (shapes, axes) are structure, not weights: keep them. So are
        # scalars (a quantizer's scale and zero point say which range it clips to).
        if n <= 1 or (t.data_type in (onnx.TensorProto.INT64, onnx.TensorProto.INT32) and n <= 64):
            continue
        for f in ("raw_data", "float_data", "int32_data", "int64_data", "double_data"):
            t.ClearField(f)
        t.data_location = onnx.TensorProto.EXTERNAL
        del t.external_data[:]
        entry = t.external_data.add()
        entry.key, entry.value = "location", "weights.stripped"
    return model


def prepare(model: Any) -> Any:
    """Infer shapes (without loading weights); raise ModelLoadError on an invalid graph."""
    from hnnframe.frontends.shapes import infer_shapes

    try:
        return infer_shapes(model)
    except Exception as e:
        raise ModelLoadError(f"ONNX shape inference failed: {str(e).splitlines()[0]}") from None
