"""``normalise_spelling``: one spelling for operators that exporters, opsets and tools spell
differently.

* global pooling: ``ReduceMean``/``ReduceMax`` over the spatial axes (the dynamo exporter,
  ``x.mean((2, 3))``) or over the tokens of ``[B, N, C]``, and an ``AveragePool`` whose window
  is the whole map become ``GlobalAveragePool``/``GlobalMaxPool``;
* splits: ``SplitToSequence`` (the dynamo exporter without optimisation) and two or more
  sibling ``Slice``/``Gather``/``Split`` nodes that cut one tensor (the TorchScript exporter's
  ``chunk``) become one ``Split``;
* renamed ops: ``Upsample`` (opset < 10) is ``Resize``; onnxruntime's fused ``FusedConv``,
  ``FusedGemm`` and ``FusedMatMul`` are ``Conv``, ``Gemm`` and ``MatMul``; a two-input ``Sum``
  is ``Add``; ``ConcatFromSequence`` is ``Concat``;
* arithmetic with a constant: ``Div`` by a constant is ``Mul``, ``Sub`` of a constant is
  ``Add``; the constant operand of an op that has no weights (anything but :data:`WEIGHTED`)
  is not a parameter. Exporters store such constants differently: a scalar as a Constant
  node (TorchScript) or an initializer (dynamo), a positional or rotary table computed from
  buffers or folded into one initializer, of the whole table or of the positions used;
  learned scales and biases right after a linear layer have joined it before
  (``fold_linear``);
* ReLU6 spelled ``Max(x, 0) -> Min(., 6)`` or ``Relu -> Min`` is ``Clip``;
* an explicit ``Pad`` in front of a Conv or pooling is part of that window operator;
* a Concat that feeds only another Concat along the same axis joins it (the TorchScript
  exporter flattens ``cat([cat([a, b]), c])``, the dynamo exporter does not), and a Transpose
  that feeds only another Transpose composes with it.
"""

from __future__ import annotations

from collections import defaultdict

from hnnframe.canonical.base import (
    CANONICALISERS,
    WINDOW_OPS,
    CanonicalPass,
    bypass,
    contract_groups,
    numel,
    spatial,
)
from hnnframe.ir import OpGraph, OpNode

RENAME: dict[str, str] = {
    "Upsample": "Resize",
    "FusedConv": "Conv",
    "FusedGemm": "Gemm",
    "FusedMatMul": "MatMul",
    "SplitToSequence": "Split",
    "ConcatFromSequence": "Concat",
    "FastGelu": "Gelu",
    "BiasGelu": "Gelu",
}
# Ops whose initializers are weights; on any other op an initializer of one or two elements
# is a scalar constant.
WEIGHTED = frozenset(
    {
        "Conv",
        "ConvTranspose",
        "Gemm",
        "MatMul",
        "BatchNormalization",
        "LayerNormalization",
        "InstanceNormalization",
        "GroupNormalization",
        "RMSNormalization",
        "Gather",
        "Attention",
        "LSTM",
        "GRU",
        "RNN",
        "Einsum",
    }
)
SLICING = frozenset({"Slice", "Gather", "Split"})


def _token_mean(p: tuple[int | None, ...] | None, out: tuple[int | None, ...] | None) -> bool:
    """A reduction of ``[B, N, C]`` over its N > 1 tokens to ``[B, C]`` (or ``[B, 1, C]``):
    the global pooling of a channels-last map, the layout onnxruntime's transpose optimiser
    leaves where the export pooled ``[B, C, H, W]``."""
    if p is None or out is None or len(p) != 3 or not isinstance(p[1], int) or p[1] < 2:
        return False
    kept = tuple(d for d in out if d != 1)
    return out[0] == p[0] and kept == tuple(d for d in (p[0], p[2]) if d != 1)


def _global_pool(graph: OpGraph, i: int) -> str | None:
    """The global pooling op that node ``i`` amounts to, or None."""
    n = graph.nodes[i]
    if graph.in_degree(i) != 1 or n.op not in ("ReduceMean", "ReduceMax", "AveragePool"):
        return None
    p = graph.nodes[graph.predecessors(i)[0]].shape
    out = n.shape
    if n.op != "AveragePool" and _token_mean(p, out):
        return "GlobalAveragePool" if n.op == "ReduceMean" else "GlobalMaxPool"
    if p is None or out is None or not (spatial(p) or 0) > 1:
        return None
    keeps_nc = tuple(out[:2]) == tuple(p[:2])
    flat = len(out) == 2
    ones = len(out) == len(p) and all(d == 1 for d in out[2:])
    if not keeps_nc or not (flat or ones):
        return None
    if n.op == "AveragePool":
        return "GlobalAveragePool" if ones and n.flops == numel(p) else None
    return "GlobalAveragePool" if n.op == "ReduceMean" else "GlobalMaxPool"


@CANONICALISERS.register("normalise_spelling")
class NormaliseSpelling(CanonicalPass):
    """One spelling for operators that exporters and opsets spell differently (see module)."""

    def __call__(self, graph: OpGraph) -> OpGraph:
        nodes: list[OpNode] = []
        for i, n in enumerate(graph.nodes):
            op = RENAME.get(n.op, n.op)
            shape = n.shape
            params = n.params
            if op == "Sum" and graph.in_degree(i) == 2:
                op = "Add"
            gp = _global_pool(graph, i)
            if gp:
                op = gp
                shape = (*n.shape[:2], 1, 1) if n.shape and len(n.shape) == 2 else n.shape
            elif op in ("Div", "Sub") and graph.in_degree(i) == 1:
                op = "Mul" if op == "Div" else "Add"
            if op not in WEIGHTED:
                params = 0
            nodes.append(OpNode(op, n.name, n.flops, params, shape, n.const))
        graph = OpGraph(nodes, graph.edges, graph.name)
        graph = self._pads(graph)
        graph = self._relu6(graph)
        graph = self._concats(graph)
        graph = self._transposes(graph)
        return self._splits(graph)

    @staticmethod
    def _transposes(graph: OpGraph) -> OpGraph:
        """Consecutive Transposes compose into one (exporters split or join permutations)."""
        drop = set()
        for i, n in enumerate(graph.nodes):
            if n.op != "Transpose" or graph.out_degree(i) != 1 or graph.in_degree(i) > 1:
                continue
            j = graph.successors(i)[0]
            if graph.nodes[j].op == "Transpose" and graph.in_degree(j) == 1:
                drop.add(i)
        return bypass(graph, drop)

    @staticmethod
    def _concats(graph: OpGraph) -> OpGraph:
        drop = set()
        for i, n in enumerate(graph.nodes):
            if n.op != "Concat" or graph.out_degree(i) != 1 or n.shape is None:
                continue
            j = graph.successors(i)[0]
            m = graph.nodes[j]
            if m.op != "Concat" or m.shape is None or len(m.shape) != len(n.shape):
                continue
            differ = [k for k, (a, b) in enumerate(zip(n.shape, m.shape, strict=True)) if a != b]
            if len(differ) == 1:
                drop.add(i)
        return bypass(graph, drop)

    @staticmethod
    def _pads(graph: OpGraph) -> OpGraph:
        drop = set()
        for i, n in enumerate(graph.nodes):
            # A Pad of the graph's input has no predecessor (TensorFlow-style "same" padding
            # of the stem), and one Pad may feed several windows.
            if n.op != "Pad" or n.params or graph.in_degree(i) > 1:
                continue
            succ = graph.successors(i)
            if succ and all(graph.nodes[j].op in WINDOW_OPS for j in succ):
                drop.add(i)
        return bypass(graph, drop)

    @staticmethod
    def _relu6(graph: OpGraph) -> OpGraph:
        groups, new = [], []
        used: set[int] = set()
        for i, n in enumerate(graph.nodes):
            if n.op not in ("Max", "Relu") or i in used or graph.out_degree(i) != 1:
                continue
            j = graph.successors(i)[0]
            m = graph.nodes[j]
            if m.op != "Min" or graph.in_degree(j) != 1 or j in used:
                continue
            if n.op == "Max" and graph.in_degree(i) != 1:
                continue
            groups.append([i, j])
            used.update((i, j))
            new.append(OpNode("Clip", f"{n.name}+{m.name}", numel(m.shape) or m.flops, 0, m.shape))
        return contract_groups(graph, groups, new)

    @staticmethod
    def _splits(graph: OpGraph) -> OpGraph:
        by_pred: dict[int, list[int]] = defaultdict(list)
        for i, n in enumerate(graph.nodes):
            if n.op in SLICING and not n.params and graph.in_degree(i) == 1:
                by_pred[graph.predecessors(i)[0]].append(i)
        groups, new = [], []
        for _, members in sorted(by_pred.items()):
            if len(members) < 2 and graph.nodes[members[0]].op != "Split":
                continue
            first = graph.nodes[members[0]]
            groups.append(members)
            name = "+".join(graph.nodes[k].name for k in members)
            new.append(OpNode("Split", name, 0, 0, first.shape))
        return contract_groups(graph, groups, new)
