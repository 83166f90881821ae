"""Passes that remove what carries no computation: constants, quantization, plumbing, no-ops.

* ``fold_constants``: nodes whose output no graph input reaches (weights transformed by
  operators, shape arithmetic) are folded, as constant folding in an exporter or onnxsim
  would; their parameters move to the operator that consumes them.
* ``fold_qdq``: QuantizeLinear/DequantizeLinear pairs (onnxruntime.quantization's QDQ
  format) are removed; a dequantized int8 weight counts as the float parameter it stands for,
  and a ReLU the quantizer deleted (a quantization range that starts at 0 right after a
  Conv, Gemm or Add) is put back. Dynamic quantization (``DynamicQuantizeLinear``,
  ``ConvInteger``/``MatMulInteger`` and the Cast and scale Mul that dequantize their result)
  becomes the float operator.
* ``drop_plumbing``: Identity, Dropout and pure layout plumbing (Reshape, Flatten, Squeeze,
  Unsqueeze, Cast, Expand) are bridged over.
* ``drop_noop``: operators that provably return their input (a single-input Concat, a 1x1
  pooling window that keeps the shape, a Pad or Slice that keeps the shape).
* ``strip_preprocessing``: input normalisation in front of the network (``(x - mean) / std``,
  a layout Transpose, a Cast) that a wrapper module adds.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from hnnframe.canonical.base import (
    CANONICALISERS,
    CanonicalPass,
    DropIdentity,
    bypass,
    numel,
    remove,
)
from hnnframe.ir import OpGraph, OpNode

# Ops that compute on small integer shape tensors (Shape -> Gather -> Div -> Unsqueeze ...).
SHAPE_ARITH = frozenset(
    {
        "Gather",
        "Unsqueeze",
        "Squeeze",
        "Concat",
        "Cast",
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Slice",
        "Range",
        "ConstantOfShape",
        "Equal",
        "Where",
        "Reshape",
        "Expand",
        "ReduceProd",
        "Max",
        "Min",
        "Floor",
        "Ceil",
        "Sqrt",
        "Reciprocal",
        "Neg",
        "Abs",
        "Mod",
        "Less",
        "Greater",
        "Not",
        "Identity",
        "CastLike",
        "Shape",
        "Size",
    }
)


def _with_params(node: OpNode, extra: int) -> OpNode:
    return dataclasses.replace(node, params=node.params + extra)


def const_nodes(graph: OpGraph) -> set[int]:
    """Nodes whose value no graph input reaches.

    Uses :attr:`OpNode.const` where the graph has it; graphs saved without it get the
    shape arithmetic that starts at Shape/Size nodes (integer tensors of rank <= 1).
    """
    const = {i for i, n in enumerate(graph.nodes) if n.const or n.op in ("Shape", "Size")}
    for i in graph.topological_order():
        if i in const:
            continue
        n = graph.nodes[i]
        preds = graph.predecessors(i)
        small = n.shape is not None and len(n.shape) <= 1
        if n.op in SHAPE_ARITH and small and all(p in const for p in preds):
            const.add(i)
    return const


@CANONICALISERS.register("fold_constants")
class FoldConstants(CanonicalPass):
    """Fold constant subgraphs away; their parameters move to their first consumer.

    A DequantizeLinear of a constant counts as the float tensor it produces (its output's
    element count), so a QDQ-quantized Conv ends with the parameters of the float Conv. The
    FLOPs of constant nodes are dropped: folding removes that work at inference.
    """

    def __call__(self, graph: OpGraph) -> OpGraph:
        const = const_nodes(graph)
        if not const:
            return graph
        carry: dict[int, int] = defaultdict(int)
        extra: dict[int, int] = defaultdict(int)
        for i in graph.topological_order():
            if i not in const:
                continue
            n = graph.nodes[i]
            own = n.params
            if n.op == "DequantizeLinear":
                own = numel(n.shape) or n.params
            value = own + carry[i]
            succ = sorted(graph.successors(i))
            if value and succ:
                (carry if succ[0] in const else extra)[succ[0]] += value
        nodes = [
            _with_params(n, extra[i]) if extra.get(i) else n for i, n in enumerate(graph.nodes)
        ]
        return remove(OpGraph(nodes, graph.edges, graph.name), const)


QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"})
# Quantized operator spellings (QOperator format, dynamic quantization, contrib ops) and the
# float operator each stands for. Only the op type is mapped: their weights are int8, so
# FLOPs and parameters of these nodes stay as the IR counted them.
QUANTIZED_OPS: dict[str, str] = {
    "QLinearConv": "Conv",
    "ConvInteger": "Conv",
    "QLinearConvTranspose": "ConvTranspose",
    "MatMulInteger": "MatMul",
    "QLinearMatMul": "MatMul",
    "DynamicQuantizeMatMul": "MatMul",
    "MatMulIntegerToFloat": "MatMul",
    "QGemm": "Gemm",
    "QLinearAdd": "Add",
    "QLinearMul": "Mul",
    "QLinearGlobalAveragePool": "GlobalAveragePool",
    "QLinearAveragePool": "AveragePool",
    "QLinearConcat": "Concat",
    "QLinearSigmoid": "Sigmoid",
    "QLinearLeakyRelu": "LeakyRelu",
    "QLinearSoftmax": "Softmax",
    "QLinearReduceMean": "ReduceMean",
    "QLinearWhere": "Where",
    "QAttention": "Attention",
}


@CANONICALISERS.register("fold_qdq")
class FoldQdq(CanonicalPass):
    """Remove QuantizeLinear/DequantizeLinear pairs and map quantized ops to float ones.

    A DequantizeLinear fed by no other node dequantizes a weight: its output's element count
    moves to its consumer as parameters (what ``fold_constants`` does for graphs that know
    their constant nodes). Every other Q/DQ node is bridged over, except one that stands for
    a deleted ReLU: onnxruntime's QDQ quantizer removes a Relu or Clip after a quantized
    tensor and lets the QuantizeLinear's range (zero point at the type's minimum, so the range
    starts at 0) do the clipping. A QuantizeLinear whose range starts at 0, whose producer
    can output negative values (:attr:`SIGNED`) and feeds nothing else, and whose value goes
    on to another operator (not straight to the graph output) becomes a ``Relu``, or a
    ``Clip`` (ReLU6, as the exporters spell it) when the range ends at 6: calibration data
    that drives a ReLU6 into saturation, as real data does, sets the range to exactly [0, 6].
    With calibration data that never reaches 6, a ReLU6 comes back as ``Relu``. Needs the Q's
    scale and zero point (see :attr:`hnnframe.ir.OpNode.clamp`; ``strip_weights`` keeps
    scalars).
    """

    # Producers after which onnxruntime deletes an activation; their output has either sign.
    SIGNED = frozenset(
        {
            "Conv",
            "ConvTranspose",
            "Gemm",
            "MatMul",
            "Add",
            "Sub",
            "BatchNormalization",
            "QLinearConv",
            "QLinearMatMul",
            "QLinearAdd",
            "QGemm",
        }
    )

    def __call__(self, graph: OpGraph) -> OpGraph:
        extra: dict[int, int] = defaultdict(int)
        drop, scales = dequantize_chains(graph)
        relu: dict[int, str] = {}
        for i, n in enumerate(graph.nodes):
            if n.op not in QDQ_OPS:
                continue
            act = self._deleted_activation(graph, i)
            if act:
                relu[i] = act
                continue
            drop.add(i)
            if n.op == "DequantizeLinear" and graph.in_degree(i) == 0:
                succ = sorted(graph.successors(i))
                if succ:
                    extra[succ[0]] += numel(n.shape) or 0
        nodes = []
        for i, n in enumerate(graph.nodes):
            if i in relu:  # an elementwise op: one FLOP per output element, as the IR counts
                nodes.append(OpNode(relu[i], n.name, numel(n.shape) or n.flops, 0, n.shape))
                continue
            op = QUANTIZED_OPS.get(n.op, n.op)
            nodes.append(
                OpNode(
                    op,
                    n.name,
                    n.flops,
                    n.params + extra.get(i, 0),
                    n.shape,
                    n.const,
                    activation=n.activation,
                    sum_out=n.sum_out,
                )
            )
        # The scale products carry no data: cut their edges, so removing them bridges nothing.
        edges = [(s, d) for s, d in graph.edges if s not in scales and d not in scales]
        return bypass(OpGraph(nodes, edges, graph.name), drop | scales)

    def _deleted_activation(self, graph: OpGraph, i: int) -> str | None:
        """``Relu`` or ``Clip`` when node ``i`` is a QuantizeLinear that stands for one."""
        n = graph.nodes[i]
        if n.op != "QuantizeLinear" or n.clamp is None or n.clamp[0] != 0.0:
            return None
        pred = graph.predecessors(i)
        if not (
            len(pred) == 1 and self._signed(graph, pred[0]) and len(graph.successors(pred[0])) == 1
        ):
            return None
        # A graph output (the Q's DequantizeLinear feeds nothing): logits that happened to be
        # non-negative on the calibration data, far likelier than a network ending in a ReLU.
        if not any(graph.successors(d) for d in graph.successors(i)):
            return None
        return "Clip" if abs(n.clamp[1] - 6.0) < 1e-4 else "Relu"

    def _signed(self, graph: OpGraph, p: int) -> bool:
        """Whether node ``p``'s output can be negative. An Add or Sub of one tensor and a
        constant (GELU's ``1 + erf(x)``: never negative, so its quantization range starts at 0
        too) is signed only when what it offsets is (a bias after a MatMul)."""
        n = graph.nodes[p]
        if n.op not in self.SIGNED:
            return False
        if n.op in ("Add", "Sub") and graph.in_degree(p) == 1:
            q = graph.predecessors(p)[0]
            while graph.nodes[q].op in QDQ_OPS and graph.in_degree(q) == 1:
                q = graph.predecessors(q)[0]
            return graph.nodes[q].op in self.SIGNED
        return True


# Integer kernels of dynamic quantization, whose int32 result is dequantized after them.
INTEGER_OPS = frozenset({"ConvInteger", "MatMulInteger"})


def dequantize_chains(graph: OpGraph) -> tuple[set[int], set[int]]:
    """The nodes that dequantize an integer kernel's result (onnxruntime's
    ``quantize_dynamic``): ``ConvInteger/MatMulInteger -> Cast -> Mul(scale)``, and the scale,
    the product (a Mul of scalars) of the input's dynamic scale and the weight's. The float
    operator computes none of them. Returns ``(chain nodes, scale nodes)``."""
    out: set[int] = set()
    scale_nodes: set[int] = set()
    for i, n in enumerate(graph.nodes):
        if n.op not in INTEGER_OPS or graph.out_degree(i) != 1:
            continue
        chain = []
        j = graph.successors(i)[0]
        if graph.nodes[j].op == "Cast" and graph.out_degree(j) == 1:
            chain.append(j)
            j = graph.successors(j)[0]
        if graph.nodes[j].op != "Mul":
            continue
        scales = [p for p in graph.predecessors(j) if p not in (i, *chain)]
        if len(scales) > 1 or any(not _is_scale(graph, s, j) for s in scales):
            continue
        out.update((*chain, j))
        scale_nodes.update(scales)
    return out, scale_nodes


def _is_scale(graph: OpGraph, s: int, consumer: int) -> bool:
    """A Mul of the dynamic scale and the weight's scale, feeding only ``consumer``."""
    n = graph.nodes[s]
    size = numel(n.shape) if n.shape is not None else 1
    fed_by_quantizer = all(
        graph.nodes[p].op == "DynamicQuantizeLinear" for p in graph.predecessors(s)
    )
    return n.op == "Mul" and size == 1 and fed_by_quantizer and graph.successors(s) == [consumer]


@CANONICALISERS.register("drop_plumbing")
class DropPlumbing(DropIdentity):
    """Bridge over Identity, Dropout and layout plumbing that moves no data between values.

    Reshape, Flatten, Squeeze, Unsqueeze and Expand change how a tensor is indexed, Cast and
    CastLike its number type, SequenceAt picks a split output: exporters and tools insert or
    remove them freely (Flatten against Reshape, a view before a Linear). So does a Gather by
    constant indices that keeps every element (the dynamo exporter's ``as_strided``).
    Transpose is kept: it permutes data (ShuffleNet's channel shuffle).

    Args:
        ops: the op types to drop (default :attr:`OPS`).
    """

    OPS = frozenset(
        {
            "Identity",
            "Dropout",
            "Reshape",
            "Flatten",
            "Squeeze",
            "Unsqueeze",
            "Cast",
            "CastLike",
            "Expand",
            "SequenceAt",
            "Optional",
            "OptionalGetElement",
        }
    )

    def __init__(self, ops: list[str] | None = None) -> None:
        self.ops = frozenset(ops) if ops is not None else self.OPS

    def __call__(self, graph: OpGraph) -> OpGraph:
        drop = {i for i, n in enumerate(graph.nodes) if n.op in self.ops}
        drop |= {i for i in range(len(graph.nodes)) if _keeps_every_element(graph, i)}
        return bypass(graph, drop)


def _keeps_every_element(graph: OpGraph, i: int) -> bool:
    """A Gather of one tensor by constant indices that keeps its element count: the dynamo
    exporter's ``as_strided`` after a reduction, a reshape in effect."""
    n = graph.nodes[i]
    if n.op != "Gather" or n.params or graph.in_degree(i) != 1:
        return False
    size, before = numel(n.shape), numel(graph.nodes[graph.predecessors(i)[0]].shape)
    return size is not None and size == before


@CANONICALISERS.register("drop_noop")
class DropNoop(CanonicalPass):
    """Bridge over operators that return their input unchanged.

    A node qualifies when it has one predecessor, no parameters, the predecessor's output
    shape, and is one of: a Concat, Sum, Max, Min or Mean of one tensor; a Split, Slice, Pad,
    Tile, Resize or Upsample that keeps the shape; a pooling whose window is one element
    (FLOPs equal to its output size), such as the AveragePool that ``AdaptiveAvgPool2d((7, 7))``
    exports to on a 7x7 map. A Transpose that feeds nothing, of a tensor that other nodes
    read (a re-laid-out copy the TorchScript exporter leaves behind as an output), goes too.
    """

    SAME = frozenset(
        {
            "Concat",
            "Sum",
            "Max",
            "Min",
            "Mean",
            "Split",
            "Slice",
            "Pad",
            "Tile",
            "Resize",
            "Upsample",
        }
    )
    POOLS = frozenset({"AveragePool", "MaxPool", "LpPool"})

    def __call__(self, graph: OpGraph) -> OpGraph:
        drop = set()
        for i, n in enumerate(graph.nodes):
            if n.params or graph.in_degree(i) != 1 or n.shape is None:
                continue
            if n.op not in self.SAME and n.op not in self.POOLS:
                continue
            p = graph.nodes[graph.predecessors(i)[0]]
            if p.shape is None or tuple(p.shape) != tuple(n.shape):
                continue
            if n.op in self.POOLS and n.flops != numel(n.shape):
                continue
            drop.add(i)
        for i, n in enumerate(graph.nodes):
            if n.op == "Transpose" and not graph.out_degree(i) and graph.in_degree(i) == 1:
                if graph.out_degree(graph.predecessors(i)[0]) > 1:
                    drop.add(i)
        return bypass(graph, drop)


@CANONICALISERS.register("strip_preprocessing")
class StripPreprocessing(CanonicalPass):
    """Remove input normalisation that a wrapper puts in front of the network.

    Repeatedly removes nodes that no other node feeds (so they read only the graph input and
    constants) when they are cheap elementwise or layout operators with at most one
    parameter per channel: ``(x - mean) / std`` as Sub and Div, a per-channel Mul and Add,
    an NHWC-to-NCHW Transpose, a Cast, or a BatchNormalization over the input channels.
    The first Conv, Gemm or MatMul (or any other operator) stops it.
    """

    OPS = frozenset(
        {
            "Sub",
            "Div",
            "Mul",
            "Add",
            "Cast",
            "Identity",
            "Transpose",
            "Reshape",
            "Unsqueeze",
            "Squeeze",
            "Gather",
            "Slice",
            "Concat",
            "BatchNormalization",
            "Clip",
            "Neg",
            "Reciprocal",
            "Sqrt",
        }
    )

    def __call__(self, graph: OpGraph) -> OpGraph:
        while True:
            drop = set()
            for i, n in enumerate(graph.nodes):
                if n.op not in self.OPS or graph.in_degree(i) or n.const:
                    continue
                channels = n.shape[1] if n.shape and len(n.shape) > 1 else None
                limit = max(64, 2 * (channels or 0))
                if n.params <= limit and graph.out_degree(i) > 0:
                    drop.add(i)
            if not drop or len(drop) == len(graph.nodes):
                return graph
            graph = remove(graph, drop)
