"""ONNX -> OpGraph (paper section 3.2.2): one node per operator, one edge per tensor.

Weights are never read: parameter counts come from initializer dims, and the only values
read are quantizer scales and zero points, through :func:`hnnframe.frontends.tensors.tensor_value`
(which says "unknown" for data the file does not hold).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hnnframe.errors import GraphError
from hnnframe.frontends.tensors import tensor_value
from hnnframe.ir.flops import QUANTIZED, attr, flops_unknown, node_flops
from hnnframe.ir.graph import OpGraph, OpNode

if TYPE_CHECKING:
    import onnx

# Inputs of these ops that are running statistics (buffers), not trainable parameters.
# Inputs that are not parameters: BN's running statistics; the position and segment tables of
# onnxruntime's EmbedLayerNormalization, which an export adds as constants (tables the
# exporters fold differently, so canonical graphs never count them; see normalise_spelling).
_BUFFER_INPUTS: dict[str, set[int]] = {
    "BatchNormalization": {3, 4},
    "EmbedLayerNormalization": {3, 4},
}
# A quantized op's parameters are its weight and bias, whatever their type (int8, int32);
# its scales and zero points are not. QLinearMatMul's weight may be either matrix.
_QUANT_PARAM_INPUTS: dict[str, set[int]] = {
    op: {w, *([b] if b is not None else []), *({0} if op == "QLinearMatMul" else set())}
    for op, (_, _, w, b) in QUANTIZED.items()
}


def _shape_of(vi: Any) -> tuple[int | None, ...] | None:
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim)


def _stored_tensors(graph: onnx.GraphProto) -> dict[str, Any]:
    """Initializers and Constant ``value`` attributes by name (an initializer wins a tie)."""
    out: dict[str, Any] = {t.name: t for t in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant" and n.output:
            out.setdefault(n.output[0], attr(n, "value"))
    return out


def _small_value(tensors: Mapping[str, Any], name: str) -> np.ndarray | None:
    """The value of a scalar initializer or Constant output, when the file holds it."""
    t = tensors.get(name)
    if not hasattr(t, "dims") or math.prod(t.dims) > 1:
        return None
    return tensor_value(t)


# onnxruntime's residual Add fused into a norm: output 3, when present, is the sum itself.
SKIP_NORM_OPS = frozenset({"SkipLayerNormalization", "SkipSimplifiedLayerNormalization"})


def _fused_activation(n: Any) -> str | None:
    """The activation onnxruntime fused into a FusedConv or FusedGemm (its attribute)."""
    if n.op_type not in ("FusedConv", "FusedGemm"):
        return None
    a = attr(n, "activation")
    return (a.decode() if isinstance(a, bytes) else str(a)) if a else None


def _quantize_range(node: onnx.NodeProto, tensors: Mapping[str, Any]) -> tuple[float, float] | None:
    """The real range a per-tensor QuantizeLinear saturates to: ((qmin-zp)*s, (qmax-zp)*s)."""
    import onnx

    scale = _small_value(tensors, node.input[1]) if len(node.input) > 1 else None
    if scale is None:
        return None
    if len(node.input) > 2 and node.input[2]:
        zp = _small_value(tensors, node.input[2])
        if zp is None:
            return None
        dtype = zp.dtype
    else:  # no zero point: 0 of the output type, uint8 unless output_dtype says otherwise
        out = attr(node, "output_dtype", 0)
        dtype = onnx.helper.tensor_dtype_to_np_dtype(out) if out else np.dtype(np.uint8)
        zp = np.zeros((), dtype)
    if not np.issubdtype(dtype, np.integer):
        return None
    info = np.iinfo(dtype)
    s, z = float(np.asarray(scale).reshape(-1)[0]), int(np.asarray(zp).reshape(-1)[0])
    return ((info.min - z) * s, (info.max - z) * s)


@dataclass
class _Tables:
    """What :func:`from_onnx` knows of a graph's tensors before it walks the operators."""

    shapes: dict[str, tuple[int | None, ...] | None]
    inits: dict[str, tuple[tuple[int, ...], bool]]  # initializer: (dims, floating point)
    int8_inits: set[str]
    const_floats: dict[str, tuple[int, ...]]  # float Constant outputs of more than one value
    aliases: set[int]  # Identity nodes of an initializer
    const_nodes: set[int]  # nodes whose value no graph input reaches


def from_onnx(model: onnx.ModelProto, name: str = "") -> OpGraph:
    """Build an OpGraph from an ONNX model whose shapes have been inferred.

    Weights are never read: parameter counts come from initializer dims, which an ONNX file
    keeps even when its external data is absent. Only floating-point initializers count as
    parameters (int64 shape tensors do not), an initializer shared by several nodes counts
    once, and BatchNormalization's running mean and variance are buffers, not parameters. A
    quantized operator (:data:`hnnframe.ir.flops.QUANTIZED`) counts its weight and bias
    whatever their integer type, and not its scales and zero points.
    """
    graph = model.graph
    tables = _tables(graph)
    nodes: list[OpNode] = []
    tensors: dict[str, Any] | None = None  # built at the first QuantizeLinear
    producer: dict[str, int] = {}
    consumers: list[list[str]] = []
    counted: set[str] = set()
    for nk, n in enumerate(graph.node):
        if n.op_type == "Constant" or nk in tables.aliases:
            continue
        params = _node_params(n, nk, tables, counted)
        clamp = None
        if n.op_type == "QuantizeLinear":
            tensors = tensors if tensors is not None else _stored_tensors(graph)
            clamp = _quantize_range(n, tensors)
        idx = len(nodes)
        nodes.append(_op_node(n, idx, params, tables, nk in tables.const_nodes, clamp))
        for o in n.output:
            if o:
                producer[o] = idx
        # CastLike reads only the type of its second input: no data flows along that edge.
        reads = n.input[:1] if n.op_type == "CastLike" else n.input
        consumers.append([i for i in reads if i])
    edges = [(producer[t], d) for d, ins in enumerate(consumers) for t in ins if t in producer]
    g = OpGraph(nodes, edges, name or graph.name)
    if g.num_nodes == 0:
        raise GraphError(f"model {name or graph.name!r} has no operator nodes")
    return g


def _tables(graph: onnx.GraphProto) -> _Tables:
    """Shapes of every tensor, the initializers, the float Constants and the constant nodes."""
    import onnx

    shapes: dict[str, tuple[int | None, ...] | None] = {}
    for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
        shapes[vi.name] = _shape_of(vi)
    float_types = {
        onnx.TensorProto.FLOAT,
        onnx.TensorProto.FLOAT16,
        onnx.TensorProto.DOUBLE,
        onnx.TensorProto.BFLOAT16,
    }
    inits: dict[str, tuple[tuple[int, ...], bool]] = {}
    int8_inits: set[str] = set()
    for t in graph.initializer:
        inits[t.name] = (tuple(t.dims), t.data_type in float_types)
        if t.data_type in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8):
            int8_inits.add(t.name)
        shapes[t.name] = tuple(t.dims)
    # Constant nodes are folded away: their outputs behave like (non-parameter) initializers,
    # except a float tensor that an operator of the data reads (_node_params).
    const_floats: dict[str, tuple[int, ...]] = {}
    for n in graph.node:
        if n.op_type == "Constant":
            for o in n.output:
                v = attr(n, "value")
                if v is not None and hasattr(v, "dims"):
                    shapes[o] = tuple(v.dims)
                    if v.data_type in float_types and math.prod(v.dims) > 1:
                        const_floats[o] = tuple(v.dims)
    aliases = _initializer_aliases(graph, inits, shapes)
    const_nodes = _constant_nodes(graph, inits, aliases)
    return _Tables(shapes, inits, int8_inits, const_floats, aliases, const_nodes)


def _initializer_aliases(
    graph: onnx.GraphProto,
    inits: dict[str, tuple[tuple[int, ...], bool]],
    shapes: dict[str, tuple[int | None, ...] | None],
) -> set[int]:
    """Identity nodes of an initializer; their outputs join ``inits`` and ``shapes``.

    Such an Identity is constant plumbing, not an operator: the TorchScript exporter emits one
    for every initializer it de-duplicated (with weights=None, all BN weights are equal, so
    resnet18 gets 72 of them). Its output is treated as an initializer of its own name,
    because it stands for a distinct torch parameter.
    """
    aliases: set[int] = set()
    for k, n in enumerate(graph.node):
        if n.op_type == "Identity" and n.input and n.input[0] in inits:
            inits[n.output[0]] = inits[n.input[0]]
            shapes[n.output[0]] = shapes.get(n.input[0])
            aliases.add(k)
    return aliases


def _constant_nodes(
    graph: onnx.GraphProto, inits: Mapping[str, Any], aliases: set[int]
) -> set[int]:
    """Nodes whose outputs no graph input reaches (see OpNode.const); ONNX lists nodes in
    topological order, so one pass suffices."""
    const_tensors = set(inits)
    const_tensors.update(o for n in graph.node if n.op_type == "Constant" for o in n.output)
    const_nodes: set[int] = set()
    for k, n in enumerate(graph.node):
        if n.op_type == "Constant" or k in aliases:
            continue
        # CastLike reads only the type of its second input.
        inputs = n.input[:1] if n.op_type == "CastLike" else n.input
        if n.op_type in ("Shape", "Size") or all(i in const_tensors for i in inputs if i):
            const_nodes.add(k)
            const_tensors.update(o for o in n.output if o)
    return const_nodes


def _node_params(n: onnx.NodeProto, nk: int, tables: _Tables, counted: set[str]) -> int:
    """The parameters node ``nk`` reads that no earlier node counted (added to ``counted``)."""
    params = 0
    buffers = _BUFFER_INPUTS.get(n.op_type, set())
    quant = _QUANT_PARAM_INPUTS.get(n.op_type)
    if n.op_type == "Gather" and n.input and n.input[0] in tables.int8_inits:
        quant = {0}  # an int8 embedding table (onnxruntime's dynamic quantization)
    for k, inp in enumerate(n.input):
        if inp in tables.inits and k not in buffers and inp not in counted:
            dims, is_float = tables.inits[inp]
            size = int(math.prod(dims)) if dims else 1
            # A float of one value is a constant, not a parameter, as a one-value Constant
            # node is (const_floats): folding tools (onnxsim, onnxruntime) turn Constant nodes
            # into initializers, and GroupNorm's one-group InstanceNormalization scale would
            # otherwise count in one file and not in the other.
            if quant is None and size == 1:
                continue
            if (k in quant) if quant is not None else is_float:
                params += size
                counted.add(inp)
        elif inp in tables.const_floats and nk not in tables.const_nodes and inp not in counted:
            # onnxsim writes the tensors it folds (a layer scale multiplied into a Conv's
            # weights, Gemma's 1 + w) as Constant nodes: a float Constant that an operator
            # of the data reads is a parameter like an initializer. (Buffers that only
            # feed constant subgraphs, rotary frequencies, stay out: those nodes fold.)
            params += int(math.prod(tables.const_floats[inp]))
            counted.add(inp)
    return params


def _op_node(
    n: onnx.NodeProto,
    idx: int,
    params: int,
    tables: _Tables,
    const: bool,
    clamp: tuple[float, float] | None,
) -> OpNode:
    """The OpNode of operator ``n``, the ``idx``-th node of the graph."""
    in_shapes = [tables.shapes.get(i) if i else None for i in n.input]
    out_shape = tables.shapes.get(n.output[0]) if n.output else None
    return OpNode(
        op=n.op_type,
        name=n.name or f"{n.op_type}_{idx}",
        flops=node_flops(n, in_shapes, out_shape),
        flops_unknown=flops_unknown(n, in_shapes, out_shape),
        params=params,
        shape=out_shape,
        const=const,
        clamp=clamp,
        activation=_fused_activation(n),
        sum_out=n.op_type in SKIP_NORM_OPS and len(n.output) > 3 and bool(n.output[3]),
    )
