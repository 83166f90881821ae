"""Shape inference that also sees through computed shapes and a dynamic batch axis.

``onnx.shape_inference`` loses dimensions after shape arithmetic such as ShuffleNet's
``x.chunk(2, dim=1)`` (Shape -> Gather -> Div -> Slice): without them Conv FLOPs cannot be
counted. Because the trigger input has a fixed shape, those integer sub-computations are
constants. This module evaluates them with numpy (:mod:`~hnnframe.frontends.shape_arith`) on
a scratch copy of the model, replaces them there by Constant nodes, re-runs ONNX shape
inference, and copies the resulting shapes back into the original model's ``value_info``.
The original nodes are never changed, and no weights are read (only small tensors, which
hold shapes, axes and pads).

A file may not hold those small tensors either: every initializer external with the data
file absent, or tensors that list dims but carry no bytes. Such a shape constant (an
initializer or a Constant node whose value cannot be read, see
:func:`hnnframe.frontends.tensors.tensor_value`) is shown to ONNX shape inference as a graph
input of its type and dims, so the rank it implies survives; shapes it would have fixed fall
back to what the file declares in ``value_info``, else stay unknown, and the IR marks the
FLOPs that need them unknown. The model never fails for it.

onnxruntime's contrib operators (the ``com.microsoft`` domain its optimisers write) have no
ONNX schema; their shapes come from onnxruntime's symbolic shape inference.
"""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np

from hnnframe.frontends.shape_arith import evaluate
from hnnframe.frontends.tensors import tensor_value

_FLOATS = (1, 10, 11)  # onnx.TensorProto FLOAT, FLOAT16, DOUBLE
# Each round can only resolve shape arithmetic whose input shapes the last inference knew, so
# a network with one channel shuffle per unit (ShuffleNet: 16) needs one round per unit.
_MAX_ROUNDS = 64


def infer_shapes(model: Any) -> Any:
    """Return ``model`` with every intermediate shape that can be known in ``value_info``."""
    import onnx
    from onnx import helper, numpy_helper

    def run(m: Any) -> Any:
        return onnx.shape_inference.infer_shapes(m, strict_mode=False, data_prop=True)

    model = fix_batch(model)
    base = _open_declared_symbols(_without_unreadable_constants(model))
    # The best shape of every value over all inference rounds, starting from what the file
    # declares: a later round never loses what an earlier one (or the exporter) knew.
    best: dict[str, Any] = {vi.name: vi for vi in model.graph.value_info}
    inferred = run(base)
    _keep_best(best, inferred)
    known: dict[str, np.ndarray] = {}
    small = (onnx.TensorProto.INT64, onnx.TensorProto.INT32, *_FLOATS)
    for t in model.graph.initializer:
        # Float scalars too: a float16 converter turns the float Constants of computed pads
        # into initializers (the float weights are stripped and unreadable).
        if t.data_type in small and int(np.prod(t.dims)) <= 64:
            value = tensor_value(t)
            if value is not None:
                known[t.name] = value
    for _ in range(_MAX_ROUNDS):
        shapes = _shape_table(inferred, best)
        new = 0
        for node in inferred.graph.node:
            if not node.output or node.output[0] in known:
                continue
            value = evaluate(node, known, shapes)
            if value is not None:
                known[node.output[0]] = value
                new += 1
        if new == 0:
            break
        scratch = onnx.ModelProto()
        scratch.CopyFrom(base)
        del scratch.graph.value_info[:]
        nodes = []
        for node in scratch.graph.node:
            if node.output and node.output[0] in known and len(node.output) == 1:
                arr = np.asarray(known[node.output[0]])
                nodes.append(
                    helper.make_node(
                        "Constant", [], [node.output[0]], value=numpy_helper.from_array(arr)
                    )
                )
            else:
                nodes.append(node)
        del scratch.graph.node[:]
        # A tool may list a node after its consumers (onnxruntime's float16 converter appends
        # the input's Cast); ONNX inference walks the list once, so it goes in data order.
        scratch.graph.node.extend(_data_order(nodes))
        try:
            inferred = run(scratch)
        except Exception:  # keep what the last successful pass found
            break
        _keep_best(best, inferred)
    _contrib_shapes(base, best)
    # Copy shapes back onto the original graph (fix_batch's copy: the caller's model is
    # untouched).
    out = model
    del out.graph.value_info[:]
    skip = {o.name for o in out.graph.output}
    skip |= {i.name for i in base.graph.input} - {i.name for i in model.graph.input}
    out.graph.value_info.extend(vi for name, vi in best.items() if name not in skip)
    # An exporter that lost a dim while tracing (TensorFlow-style padding computed at run
    # time) declares the output with a name of its own for it: take what inference found.
    inferred_out = {o.name: o for o in inferred.graph.output}
    for o in out.graph.output:
        if o.name in inferred_out and _known_dims(inferred_out[o.name]) > _known_dims(o):
            o.type.CopyFrom(inferred_out[o.name].type)
    return out


def _contrib_shapes(model: Any, best: dict[str, Any]) -> None:
    """Shapes after onnxruntime's contrib operators (``com.microsoft``: SkipLayerNormalization,
    FusedMatMul, BiasGelu, ... of its graph optimiser), which ONNX has no schema for, from
    onnxruntime's symbolic shape inference when it is installed. It reads weights only for
    their dims, so every initializer it cannot read becomes a graph input on a scratch copy."""
    import onnx
    from onnx import helper

    if not any(n.domain == "com.microsoft" for n in model.graph.node):
        return
    try:
        from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference
    except ImportError:  # pragma: no cover - onnxruntime is an install requirement
        return
    scratch = onnx.ModelProto()
    scratch.CopyFrom(model)
    g = scratch.graph
    absent = [t for t in g.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    keep = [t for t in g.initializer if t.data_location != onnx.TensorProto.EXTERNAL]
    del g.initializer[:]
    g.initializer.extend(keep)
    g.input.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in absent)
    del g.value_info[:]
    # A Conv or Gemm with a fused activation has the shapes of the plain operator, which
    # both inferences know (onnxruntime's has no rule for FusedConv).
    for n in g.node:
        if n.domain == "com.microsoft" and n.op_type in ("FusedConv", "FusedGemm"):
            n.domain, n.op_type = "", n.op_type.removeprefix("Fused")
            keep_attrs = [a for a in n.attribute if not a.name.startswith("activation")]
            del n.attribute[:]
            n.attribute.extend(keep_attrs)
            del n.input[3:]
    try:
        inferred = SymbolicShapeInference.infer_shapes(
            scratch, auto_merge=True, guess_output_rank=True
        )
    except Exception:  # an operator it does not know either: keep ONNX's shapes
        return
    _keep_best(best, inferred)


def _keep_best(best: dict[str, Any], inferred: Any) -> None:
    for vi in inferred.graph.value_info:
        old = best.get(vi.name)
        if old is None or _known_dims(vi) >= _known_dims(old):  # ties: the later round
            best[vi.name] = vi


def _known_dims(vi: Any) -> int:
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return -1
    return sum(1 for d in t.shape.dim if d.HasField("dim_value"))


def _data_order(nodes: list[Any]) -> list[Any]:
    """``nodes`` with each one after the producers of its inputs, otherwise in file order
    (a stable topological sort; a cycle, which a valid file has none of, keeps file order)."""
    producer = {o: k for k, n in enumerate(nodes) for o in n.output if o}
    waits = [
        {producer[i] for i in n.input if i in producer and producer[i] != k}
        for k, n in enumerate(nodes)
    ]
    users: dict[int, list[int]] = {}
    for k, deps in enumerate(waits):
        for d in deps:
            users.setdefault(d, []).append(k)
    ready = [k for k, deps in enumerate(waits) if not deps]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        k = heapq.heappop(ready)
        order.append(k)
        for u in users.get(k, []):
            waits[u].discard(k)
            if not waits[u]:
                heapq.heappush(ready, u)
    if len(order) < len(nodes):
        return nodes
    return [nodes[k] for k in order]


def _open_declared_symbols(model: Any) -> Any:
    """A copy of ``model`` whose declared ``value_info`` dims that are symbols are unknown.

    A tool that ran its own inference (onnxruntime's float16 converter) declares the dims it
    could not resolve as symbols of its own (``unk__5``); ONNX inference keeps a declared
    symbol rather than the number it finds, so they are opened for it to fill.
    """
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    for vi in out.graph.value_info:
        for d in vi.type.tensor_type.shape.dim:
            if d.dim_param:
                d.Clear()
    return out


def _without_unreadable_constants(model: Any) -> Any:
    """``model``, or a copy in which every integer initializer and Constant node whose value
    the file does not hold is a graph input of the same type and dims (see the module
    docstring). Weights (floating-point initializers) stay: inference needs only their dims.
    """
    import onnx
    from onnx import helper

    ints = (onnx.TensorProto.INT64, onnx.TensorProto.INT32)
    bad_inits = {
        t.name for t in model.graph.initializer if t.data_type in ints and tensor_value(t) is None
    }
    bad_consts: dict[int, Any] = {}
    for k, n in enumerate(model.graph.node):
        if n.op_type == "Constant" and len(n.output) == 1:
            for a in n.attribute:
                if a.name == "value" and a.type == onnx.AttributeProto.TENSOR:
                    if tensor_value(a.t) is None:
                        bad_consts[k] = a.t
    if not bad_inits and not bad_consts:
        return model
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    tensors = [t for t in g.initializer if t.name in bad_inits]
    keep = [t for t in g.initializer if t.name not in bad_inits]
    del g.initializer[:]
    g.initializer.extend(keep)
    inputs = [i for i in g.input if i.name not in bad_inits]
    for t in tensors:
        inputs.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    for k, t in bad_consts.items():
        inputs.append(helper.make_tensor_value_info(g.node[k].output[0], t.data_type, list(t.dims)))
    del g.input[:]
    g.input.extend(inputs)
    nodes = [n for k, n in enumerate(g.node) if k not in bad_consts]
    del g.node[:]
    g.node.extend(nodes)
    return out


def fix_batch(model: Any) -> Any:
    """A copy of ``model`` whose symbolic leading input (and output) dims are 1.

    A model exported with a dynamic batch axis has no known shape anywhere, so no FLOPs
    could be counted; the batch is not part of the architecture, and hnnframe counts FLOPs for
    one sample everywhere else. Other symbolic dims (a dynamic height) are left unknown.
    """
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    inits = {t.name for t in out.graph.initializer}
    params: set[str] = set()
    for vi in out.graph.input:
        dims = vi.type.tensor_type.shape.dim
        if vi.name not in inits and len(dims) >= 2 and not dims[0].HasField("dim_value"):
            if dims[0].dim_param:
                params.add(dims[0].dim_param)
            dims[0].dim_value = 1  # a oneof with dim_param: setting one clears the other
    for vi in out.graph.output:
        dims = vi.type.tensor_type.shape.dim
        if dims and dims[0].dim_param in params:
            dims[0].dim_value = 1
        for d in dims:  # a symbol of the exporter's own: unknown, for inference to fill
            if d.dim_param and d.dim_param not in params:
                d.Clear()
    return out


def _shape_table(model: Any, best: dict[str, Any]) -> dict[str, list[int | None]]:
    table: dict[str, list[int | None]] = {}
    infos = list(model.graph.input) + list(best.values()) + list(model.graph.output)
    for vi in infos:
        t = vi.type.tensor_type
        if t.HasField("shape"):
            table[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
    for init in model.graph.initializer:
        table[init.name] = list(init.dims)
    return table
