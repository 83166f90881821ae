"""Passes that remove what carries no computation: constants, plumbing, no-ops.

Quantization (``fold_qdq``) is in :mod:`hnnframe.canonical.quantization`.

* ``fold_constants``: nodes whose output no graph input reaches (weights transformed by
  operators, shape arithmetic) are folded, as constant folding in an exporter or onnxsim
  would; their parameters move to the operator that consumes them.
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
    Tile, Resize or Upsample that keeps the shape (a Slice or Pad: the element count); a
    pooling whose window is one element (FLOPs equal to its output size), such as the
    AveragePool that ``AdaptiveAvgPool2d((7, 7))`` exports to on a 7x7 map. A Transpose that
    feeds nothing, of a tensor that other nodes read (a re-laid-out copy the TorchScript
    exporter leaves behind as an output), goes too.
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
    KEEP_COUNT = frozenset({"Slice", "Pad"})

    def __call__(self, graph: OpGraph) -> OpGraph:
        drop = set()
        for i, n in enumerate(graph.nodes):
            if n.params or graph.in_degree(i) != 1 or n.shape is None:
                continue
            if n.op not in self.SAME and n.op not in self.POOLS:
                continue
            p = graph.nodes[graph.predecessors(i)[0]]
            if n.op in self.KEEP_COUNT and numel(n.shape) and numel(n.shape) == numel(p.shape):
                # A Slice or Pad that keeps every element moves none, even where the view
                # around it changed (Swin's ``x[:, :H, :W]`` after the windows' reshapes).
                drop.add(i)
                continue
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
