"""Folds that make BN-kept and BN-folded graphs, fused and unfused activations, and inputs of
any resolution give the same node features (paper eq. 3: op, FLOP digits, parameter digits).

* ``fold_bn``: a BatchNormalization right after a Conv, ConvTranspose, Gemm or MatMul joins
  it, as constant folding in eval mode does (the dynamo exporter, onnxsim, onnxruntime).
  Folding turns BN's scale and shift into the producer's weights and a bias, so the folded
  node has the producer's weights plus one bias (one parameter per channel, one FLOP per
  output element), exactly what the folded export counts, with or without a bias before.
* ``absorb_activation`` (optional): a ReLU or Clip (ReLU6) whose producer feeds nothing else
  is absorbed by it. onnxruntime's QDQ quantizer deletes these activations (the quantization range
  clips), its graph optimiser fuses them into ``FusedConv``; only their absence is common
  to every spelling. Their FLOPs are dropped.
* ``drop_classifier_pool``: the adaptive average pooling in front of a classifier (VGG's,
  AlexNet's ``AdaptiveAvgPool2d``) is a no-op at the model's own input size and a real
  pooling at any other; it is removed.
* ``normalise_resolution`` (optional): FLOPs of nodes on spatial maps scale with the input
  area. They
  are rescaled by ``reference / a``, where ``a`` is the largest map area (H*W) that the
  graph's Conv and pooling nodes output (the stem's), so another input resolution gives the
  same FLOP digits; a graph without Conv or pooling (a transformer) is left as it is. The adaptive average pooling in
  front of a classifier, a no-op at the native resolution only, is removed.

The two optional passes make more variants identical but erase information that tells
architectures apart (ReLU against ReLU6, absolute compute), and measured retrieval of unseen
architectures got worse with them (docs/robustness.md), so :data:`ROBUST_PASSES` leaves them
out and the robust recipe learns those invariances from training-time variants instead.
"""

from __future__ import annotations

import math

from hnnframe.canonical.base import (
    CANONICALISERS,
    WINDOW_OPS,
    CanonicalPass,
    bypass,
    contract_groups,
    spatial,
)
from hnnframe.errors import ConfigError
from hnnframe.ir import OpGraph, OpNode

BN_PRODUCERS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})
REDUCTIONS = frozenset({
    "GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "ReduceMax", "ReduceSum", "ReduceMin",
    "ReduceL2", "ReduceProd",
})  # fmt: skip


@CANONICALISERS.register("fold_bn")
class FoldBn(CanonicalPass):
    """Fold BatchNormalization into the Conv/ConvTranspose/Gemm/MatMul that feeds only it."""

    def __call__(self, graph: OpGraph) -> OpGraph:
        groups, new = [], []
        used: set[int] = set()
        for i, bn in enumerate(graph.nodes):
            if bn.op != "BatchNormalization" or graph.in_degree(i) != 1:
                continue
            p = graph.predecessors(i)[0]
            prod = graph.nodes[p]
            if prod.op not in BN_PRODUCERS or graph.out_degree(p) != 1 or p in used:
                continue
            used.update((p, i))
            groups.append([p, i])
            flops, params = folded_counts(prod, bn)
            new.append(OpNode(prod.op, f"{prod.name}+{bn.name}", flops, params, bn.shape))
        return contract_groups(graph, groups, new)


def folded_counts(prod: OpNode, bn: OpNode) -> tuple[int, int]:
    """FLOPs and parameters of ``prod`` after folding ``bn`` into it: weights plus one bias.

    A folded export's Conv always has a bias (BN's shift), whether or not the original Conv
    had one; so the result is weights + C parameters and 2 x outputs x (weights / C) + outputs
    FLOPs (:func:`hnnframe.ir.node_flops`). The weight count is recovered from the producer's
    counts: without a bias its FLOPs are exactly 2 x outputs x params / C.
    """
    c = bn.shape[1] if bn.shape is not None and len(bn.shape) > 1 else None
    out = 1
    for d in bn.shape or ():
        out = out * d if isinstance(d, int) else 0
    if prod.op in ("Conv", "Gemm", "MatMul") and c and out:
        for weights in (prod.params, prod.params - c):  # without, with a bias
            macs = 2 * out * weights
            if weights > 0 and macs % c == 0 and prod.flops in (macs // c, macs // c + out):
                return macs // c + out, weights + c
    return prod.flops + bn.flops // 2, prod.params + bn.params // 2


@CANONICALISERS.register("absorb_activation")
class AbsorbActivation(CanonicalPass):
    """Absorb ReLU-family activations into a producer that feeds only them.

    Args:
        ops: the activations to absorb (default Relu and Clip, the ones quantizers remove).
    """

    def __init__(self, ops: list[str] | None = None) -> None:
        self.ops = frozenset(ops or ["Relu", "Clip"])

    def __call__(self, graph: OpGraph) -> OpGraph:
        drop = {
            i
            for i, n in enumerate(graph.nodes)
            if n.op in self.ops
            and graph.in_degree(i) == 1
            and graph.out_degree(graph.predecessors(i)[0]) == 1
        }
        return bypass(graph, drop)


def classifier_pools(graph: OpGraph) -> set[int]:
    """Average poolings that fix a classifier's input size (``AdaptiveAvgPool2d((7, 7))`` in
    front of VGG's first Linear): one predecessor, a map of more than one element per channel
    as output, and only Gemm/MatMul successors. At the model's own resolution such a pooling
    is a no-op (``drop_noop`` removes it); at any other it is not, so it says nothing about
    the architecture."""
    out = set()
    for i, n in enumerate(graph.nodes):
        if n.op != "AveragePool" or graph.in_degree(i) != 1 or not (spatial(n.shape) or 0) > 1:
            continue
        succ = graph.successors(i)
        if succ and all(graph.nodes[j].op in ("Gemm", "MatMul") for j in succ):
            out.add(i)
    return out


@CANONICALISERS.register("drop_classifier_pool")
class DropClassifierPool(CanonicalPass):
    """Bridge over the average pooling that only adapts a map to a classifier's input size
    (:func:`classifier_pools`), so a model exported at another resolution keeps its nodes."""

    def __call__(self, graph: OpGraph) -> OpGraph:
        return bypass(graph, classifier_pools(graph))


@CANONICALISERS.register("normalise_resolution")
class NormaliseResolution(CanonicalPass):
    """Rescale spatial FLOPs to a reference map area (see the module docstring).

    The graph's resolution is the largest map that a Conv or pooling node outputs (the stem's
    output: 112x112 for a ResNet at 224x224, 224x224 for a VGG). Architectures of one family
    share their stem, so siblings are rescaled alike; a geometric mean over all maps would
    rescale a deeper sibling more (``statistic="geomean"``).

    A node is spatial when its output is a map of rank >= 4 with more than one element per
    channel, or when it reduces such a map (global pooling, Reduce*). A Gemm keeps its FLOPs:
    its input size is fixed by the weights, whatever the resolution. An average pooling that
    only adapts the map to such a Gemm is removed first (:func:`classifier_pools`).

    Args:
        reference: the map area every graph is rescaled to (default 112 x 112).
        statistic: ``max`` (default) or ``geomean`` of the Conv/pooling map areas.
    """

    def __init__(self, reference: float = 112.0 * 112.0, statistic: str = "max") -> None:
        if statistic not in ("max", "geomean"):
            raise ConfigError(
                f"normalise_resolution statistic is max or geomean, not {statistic!r}"
            )
        self.reference = float(reference)
        self.statistic = statistic

    def __call__(self, graph: OpGraph) -> OpGraph:
        graph = DropClassifierPool()(graph)
        areas = [a for n in graph.nodes if n.op in WINDOW_OPS and (a := spatial(n.shape)) and a > 1]
        if not areas:
            return graph
        if self.statistic == "max":
            size = float(max(areas))
        else:
            size = math.exp(sum(math.log(a) for a in areas) / len(areas))
        factor = self.reference / size
        nodes = []
        for i, n in enumerate(graph.nodes):
            is_spatial = (spatial(n.shape) or 0) > 1 or (
                n.op in REDUCTIONS
                and any((spatial(graph.nodes[p].shape) or 0) > 1 for p in graph.predecessors(i))
            )
            flops = int(round(n.flops * factor)) if is_spatial else n.flops
            nodes.append(OpNode(n.op, n.name, flops, n.params, n.shape, n.const))
        return OpGraph(nodes, graph.edges, graph.name)
