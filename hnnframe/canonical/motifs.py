"""``fuse_decompositions``: decomposed operator sequences back to one node each.

The dynamo exporter, older opsets and some tools spell one operator as a sequence of
elementwise and reduction nodes: GELU as ``Div, Erf, Add, Mul, Mul`` below opset 20,
LayerNormalization as ``ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add`` below
opset 17, rotary position embeddings as ``Mul, Slice, Slice, Neg, Concat, Mul, Add`` below
opset 23, HardSwish as ``HardSigmoid, Mul`` below opset 14, adaptive average pooling to a
size that does not divide the input as dozens of ``Gather``/``Add`` nodes, scaled dot-product
attention as ``MatMul, Mul, Softmax, MatMul``. The order of the nodes and the way constants
are applied vary between exporters, so a decomposition is recognised by the **multiset of op
types** of a single-entry single-exit region rather than by a fixed chain:

a region hangs off one entry node P: every member is fed only by P and other members, and
only its exit node feeds anything outside it. For each P the pass grows the largest such set
of candidate nodes, tries every exit from the latest to the earliest, and replaces the first
region whose op multiset a :class:`Motif` accepts by one node. The new node's FLOPs follow
the convention of :mod:`hnnframe.ir` for the operator it stands for (GELU one per element,
LayerNormalization five per element plus two with an affine, ...), so a decomposed and a
native spelling end with the same features; its parameters are the members' non-scalar
parameters (LayerNorm's scale and bias).

Attention is a chain, not a region (queries, keys and values enter it from three places):
``MatMul -> (Mul|Div|Add|Where)* -> Softmax -> MatMul``, with the scale multiplications that
feed the first MatMul, becomes one ``Attention`` node (:mod:`hnnframe.canonical.attention`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from hnnframe.canonical.attention import fuse_attention
from hnnframe.canonical.base import CANONICALISERS, CanonicalPass, contract_groups, numel
from hnnframe.ir import OpGraph, OpNode

# FLOPs per element of a rotary position embedding (two products and a sum; the negated
# half is a sign): the same for the decomposition and opset 23's RotaryEmbedding.
ROTARY_FLOPS = 3


@dataclass(frozen=True)
class Motif:
    """A decomposition: which op multisets it accepts, and the node it becomes.

    Attributes:
        op: the op type of the fused node.
        accepts: ``(ops, region) -> bool`` on the op multiset (and the region, for shapes).
        flops_per_element: FLOPs per output element of the fused node (ir convention);
            ``affine_flops`` more per element when the region has parameters.
        keep_params: whether the fused node keeps the members' (non-scalar) parameters.
        input_flops: count FLOPs per element of the entry's output instead (pooling).
        multi_use: the entry's output must feed two or more members (x * f(x), x - mean(x)),
            so that a region never starts at a producer in front of the decomposition.
    """

    op: str
    accepts: Callable[[Counter[str], list[OpNode]], bool]
    flops_per_element: int = 1
    affine_flops: int = 0
    keep_params: bool = False
    input_flops: bool = False
    multi_use: bool = True


def _subset(c: Counter[str], ops: set[str]) -> bool:
    return set(c) <= ops


_NORM_OPS = {"ReduceMean", "Sub", "Pow", "Mul", "Add", "Sqrt", "Div", "Reciprocal"}


def _is_batch_stats(region: list[OpNode]) -> bool:
    """True when the first mean keeps only the channel axis (BatchNorm statistics). A mean of
    one element per position (a LayerNorm over the channels of a 1x1 map, ConvNeXt's head)
    keeps no channel axis."""
    for n in region:
        if n.op == "ReduceMean" and n.shape is not None and len(n.shape) >= 4:
            return n.shape[0] == 1 and n.shape[1] != 1 and all(d == 1 for d in n.shape[2:])
        if n.op == "ReduceMean":
            return False
    return False


def _mean_var_norm(c: Counter[str]) -> bool:
    """(x - mean) / sqrt(var + eps): two means, a Sub, only normalisation ops."""
    return (
        c["ReduceMean"] == 2 and c["Sub"] >= 1 and _subset(c, _NORM_OPS) and sum(c.values()) <= 11
    )


def _layernorm(c: Counter[str], region: list[OpNode]) -> bool:
    return _mean_var_norm(c) and not _is_batch_stats(region)


def _batchnorm(c: Counter[str], region: list[OpNode]) -> bool:
    return _mean_var_norm(c) and _is_batch_stats(region)


def _rmsnorm(c: Counter[str], region: list[OpNode]) -> bool:
    return (
        c["ReduceMean"] == 1
        and "Sub" not in c
        and _subset(c, _NORM_OPS)
        and 4 <= sum(c.values()) <= 8
        and bool(c["Sqrt"] or c["Reciprocal"])
    )


def _gelu(c: Counter[str], region: list[OpNode]) -> bool:
    n = sum(c.values())
    erf = c["Erf"] == 1 and _subset(c, {"Erf", "Mul", "Div", "Add"}) and 4 <= n <= 6
    tanh = c["Tanh"] == 1 and _subset(c, {"Tanh", "Mul", "Add", "Pow", "Div"}) and 6 <= n <= 10
    return erf or tanh


def _hardswish(c: Counter[str], region: list[OpNode]) -> bool:
    if c == Counter({"HardSigmoid": 1, "Mul": 1}):
        return True
    # x * relu6(x + 3) / 6
    relu6 = c["Clip"] == 1 and c["Add"] == 1 and _subset(c, {"Add", "Clip", "Mul", "Div"})
    return relu6 and sum(c.values()) in (3, 4)


def _softmax(c: Counter[str], region: list[OpNode]) -> bool:
    ops = {"Exp", "ReduceSum", "Div", "ReduceMax", "Sub", "Reciprocal", "Mul"}
    return c["Exp"] == 1 and c["ReduceSum"] == 1 and _subset(c, ops)


def _rotary(c: Counter[str], region: list[OpNode]) -> bool:
    """Rotary position embedding ``x * cos + rotate_half(x) * sin``: the halves cut by Slices
    (or a Split), the second negated, concatenated back; onnxruntime's transpose optimiser
    moves the head split's Transpose into it, one per branch."""
    ops = {"Mul", "Add", "Neg", "Concat", "Slice", "Split", "Gather", "Transpose"}
    cuts = c["Slice"] + c["Split"] + c["Gather"]
    return (
        c["Neg"] == 1
        and c["Concat"] == 1
        and c["Add"] == 1
        and c["Mul"] == 2
        and 1 <= cuts <= 2
        and c["Transpose"] <= 3
        and _subset(c, ops)
    )


_ADAPTIVE_OPS = {
    "Transpose",
    "GatherND",
    "Gather",
    "Where",
    "Add",
    "Div",
    "Concat",
    "Slice",
    "ReduceMean",
    "Unsqueeze",
    "Mul",
    "Sum",
}


def _adaptive_pool(c: Counter[str], region: list[OpNode]) -> bool:
    """The dynamo exporter's adaptive average pooling to a size that does not divide the map:
    windows gathered (GatherND, or Gather index by index) and averaged."""
    out = region[-1].shape
    gathers = c["GatherND"] >= 1 or c["Gather"] + c["Slice"] >= 4
    averaged = c["ReduceMean"] >= 1 or c["Div"] >= 1
    rank4 = out is not None and len(out) >= 4
    return _subset(c, _ADAPTIVE_OPS) and gathers and averaged and rank4


MOTIFS: list[Motif] = [
    Motif("LayerNormalization", _layernorm, 5, 2, keep_params=True),
    Motif("BatchNormalization", _batchnorm, 2, 0, keep_params=True),
    Motif("RMSNormalization", _rmsnorm, 4, 1, keep_params=True),
    Motif("Gelu", _gelu),
    Motif("HardSwish", _hardswish),
    Motif("Mish", lambda c, r: c == Counter({"Softplus": 1, "Tanh": 1, "Mul": 1})),
    Motif("Softmax", _softmax, 3, multi_use=False),
    Motif("RotaryEmbedding", _rotary, ROTARY_FLOPS),
    Motif("AveragePool", _adaptive_pool, input_flops=True, multi_use=False),
]
REGION_OPS = frozenset(
    {
        "ReduceMean",
        "ReduceSum",
        "ReduceMax",
        "Sub",
        "Pow",
        "Mul",
        "Add",
        "Sqrt",
        "Div",
        "Reciprocal",
        "Erf",
        "Tanh",
        "HardSigmoid",
        "Clip",
        "Softplus",
        "Exp",
        "Transpose",
        "GatherND",
        "Gather",
        "Where",
        "Concat",
        "Slice",
        "Unsqueeze",
        "Sum",
        "Neg",
        "Split",
    }
)
MAX_REGION = 256


def _closure(graph: OpGraph, entry: int, pos: dict[int, int]) -> list[int]:
    """Candidate nodes fed only by ``entry`` and each other, in topological order."""
    region: set[int] = set()
    inside = {entry}
    frontier = list(graph.successors(entry))
    while frontier and len(region) < MAX_REGION:
        grown = False
        for j in sorted(set(frontier), key=pos.__getitem__):
            if j in region or graph.nodes[j].op not in REGION_OPS:
                continue
            if all(p in inside for p in graph.predecessors(j)):
                region.add(j)
                inside.add(j)
                grown = True
        if not grown:
            break
        frontier = [s for r in region for s in graph.successors(r) if s not in region]
    return sorted(region, key=pos.__getitem__)


def _ancestors(graph: OpGraph, exit_: int, allowed: set[int]) -> set[int]:
    seen = {exit_}
    stack = [exit_]
    while stack:
        for p in graph.predecessors(stack.pop()):
            if p in allowed and p not in seen:
                seen.add(p)
                stack.append(p)
    return seen


def _fused(graph: OpGraph, motif: Motif, entry: int, members: list[int]) -> OpNode:
    nodes = [graph.nodes[k] for k in members]
    out = nodes[-1]
    params = sum(n.params for n in nodes if n.params > 2) if motif.keep_params else 0
    if motif.input_flops:
        flops = numel(graph.nodes[entry].shape) or sum(n.flops for n in nodes)
    else:
        per = motif.flops_per_element + (motif.affine_flops if params else 0)
        size = numel(out.shape)
        flops = per * size if size is not None else sum(n.flops for n in nodes)
    return OpNode(motif.op, "+".join(n.name for n in nodes), flops, params, out.shape)


def fuse_regions(graph: OpGraph, motifs: list[Motif] | None = None) -> OpGraph:
    """Replace every single-entry single-exit region that a motif accepts (see module)."""
    motifs = MOTIFS if motifs is None else motifs
    order = graph.topological_order()
    pos = {n: k for k, n in enumerate(order)}
    used: set[int] = set()
    groups: list[list[int]] = []
    new: list[OpNode] = []
    for entry in order:
        if not any(graph.nodes[s].op in REGION_OPS for s in graph.successors(entry)):
            continue
        cand = [k for k in _closure(graph, entry, pos) if k not in used]
        if not cand:
            continue
        allowed = set(cand)
        for exit_ in reversed(cand):
            members = _ancestors(graph, exit_, allowed)
            if any(s not in members for m in members if m != exit_ for s in graph.successors(m)):
                continue
            ordered = sorted(members, key=pos.__getitem__)
            ops = Counter(graph.nodes[k].op for k in ordered)
            region = [graph.nodes[k] for k in ordered]
            uses = sum(1 for k in graph.successors(entry) if k in members)
            motif = next(
                (m for m in motifs if m.accepts(ops, region) and (uses >= 2 or not m.multi_use)),
                None,
            )
            if motif is None:
                continue
            groups.append(ordered)
            new.append(_fused(graph, motif, entry, ordered))
            used.update(ordered)
            break
    return contract_groups(graph, groups, new)


@CANONICALISERS.register("fuse_decompositions")
class FuseDecompositions(CanonicalPass):
    """Decomposed GELU, LayerNorm, RMSNorm, BatchNorm, HardSwish, Mish, Softmax, adaptive
    average pooling and attention back to one node each (see the module docstring).

    Args:
        attention: also fuse attention chains (default True).
    """

    def __init__(self, attention: bool = True) -> None:
        self.attention = attention

    def __call__(self, graph: OpGraph) -> OpGraph:
        graph = fuse_regions(graph)
        return fuse_attention(graph) if self.attention else graph
