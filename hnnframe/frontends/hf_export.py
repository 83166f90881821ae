"""Export a transformers config to weight-stripped ONNX without materialising any weight.

The model is built on the meta device (no storage: a 7B config costs no 28 GB), captured with
``torch.export.export`` and translated with ``torch.onnx.export(exported_program)`` into an
ONNX IR model (``onnx_ir``). Its initializers are meta tensors with no bytes, so before
serialisation every one becomes a dims-only external tensor, the same shape of ModelProto
that :func:`hnnframe.frontends.export.strip_weights` makes of an ordinary export: parameter
counts come from initializer dims. Buffers and lifted constants (rotary ``inv_freq``, position
ids, mask constants) are not parameters; they become Constant nodes (also dims-only), which
the IR does not count. The ONNX optimiser is off: it folds constants, which needs values.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from typing import Any

from hnnframe.errors import ExportError
from hnnframe.frontends.hf import build_model, traced_module, trigger
from hnnframe.log import get_logger

log = get_logger(__name__)

#: Opset of the dynamo exporter's output.
HF_OPSET = 18
_STRIPPED = "weights.stripped"


@contextlib.contextmanager
def _torch_quiet() -> Iterator[None]:
    """torch's own loggers muted during an export: a config that fails to trace makes torch log
    its traceback at ERROR level (fake_tensor) before the exception reaches us, and a user (or
    a stranger's upload) should see our one line, not torch's internals."""
    logger = logging.getLogger("torch")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def export_config(config: Any, name: str, attn: str = "eager") -> Any:
    """A weight-stripped ``onnx.ModelProto`` of a transformers config (shapes not yet
    inferred: call :func:`hnnframe.frontends.export.prepare`)."""
    import torch

    model = build_model(config, device="meta", attn=attn)
    names, xs = trigger(model, config, device="meta")
    module = traced_module(model, names)
    log.info("exporting %s (%s) from the meta device", name, type(model).__name__)
    try:
        with torch.no_grad(), warnings.catch_warnings(), _torch_quiet():
            warnings.simplefilter("ignore")
            program = torch.export.export(module, xs, strict=False)
            sig = program.graph_signature
            buffers = set(sig.inputs_to_buffers.values())
            buffers |= set(sig.inputs_to_lifted_tensor_constants.values())
            onnx_program = torch.onnx.export(
                program,
                xs,
                dynamo=True,
                optimize=False,
                verify=False,
                verbose=False,  # its progress lines would go to stdout, between our results
                opset_version=HF_OPSET,
            )
    except Exception as e:
        text = str(e).strip()
        msg = text.splitlines()[0] if text else type(e).__name__
        raise ExportError(f"cannot export {name} to ONNX: {msg}") from e
    ir_model = onnx_program.model
    for value, input_name in zip(ir_model.graph.inputs, names, strict=False):
        value.name = input_name
    proto = _serialise_stripped(ir_model)
    _buffers_to_constants(proto, buffers)
    proto.graph.name = name
    return proto


def _serialise_stripped(ir_model: Any) -> Any:
    """Serialise an onnx_ir model whose tensors are meta (no bytes) as dims-only tensors."""
    import onnx_ir as ir

    def stripped(t: Any, name: str) -> Any:
        return ir.ExternalTensor(_STRIPPED, 0, None, t.dtype, shape=t.shape, name=name)

    for value in ir_model.graph.initializers.values():
        if value.const_value is not None:
            value.const_value = stripped(value.const_value, value.name)
    graphs = [ir_model.graph, *ir_model.functions.values()]
    for graph in graphs:
        for node in ir.traversal.RecursiveGraphIterator(graph):
            for a in node.attributes.values():
                if a.type == ir.AttributeType.TENSOR and _is_meta(a.value):
                    node.attributes[a.name] = ir.AttrTensor(a.name, stripped(a.value, a.name))
    return ir.serde.serialize_model(ir_model)


def _is_meta(t: Any) -> bool:
    raw = getattr(t, "raw", None)
    return bool(getattr(raw, "is_meta", False))


def _buffers_to_constants(proto: Any, buffers: set[str]) -> None:
    """Move buffer initializers into Constant nodes at the head of the graph."""
    from onnx import helper

    keep, moved = [], []
    for t in proto.graph.initializer:
        (moved if t.name in buffers else keep).append(t)
    if not moved:
        return
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(keep)
    names = {t.name for t in moved}
    inputs = [i for i in proto.graph.input if i.name not in names]
    del proto.graph.input[:]
    proto.graph.input.extend(inputs)
    consts = [helper.make_node("Constant", [], [t.name], name=f"{t.name}/const") for t in moved]
    for node, t in zip(consts, moved, strict=True):
        node.attribute.append(helper.make_attribute("value", t))
    nodes = consts + list(proto.graph.node)
    del proto.graph.node[:]
    proto.graph.node.extend(nodes)
