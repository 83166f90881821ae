"""Folds that make BN-kept and BN-folded graphs, fused and unfused activations, and inputs of
any resolution give the same node features (paper eq. 3: op, FLOP digits, parameter digits).

* ``fold_linear``: a linear layer in one spelling: a MatMul with a weight is a Gemm, and a
  bias Add or a per-channel scale Mul right after a Conv or Gemm joins it (the TorchScript
  exporter's ``MatMul -> Add`` against onnxsim's Gemm, a layer scale folded into weights).
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
from hnnframe.errors import ConfigError
from hnnframe.ir import OpGraph, OpNode

BN_PRODUCERS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})
REDUCTIONS = frozenset(
    {
        "GlobalAveragePool",
        "GlobalMaxPool",
        "ReduceMean",
        "ReduceMax",
        "ReduceSum",
        "ReduceMin",
        "ReduceL2",
        "ReduceProd",
    }
)


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


LINEAR = frozenset({"Conv", "ConvTranspose", "Gemm"})


def _channels(node: OpNode) -> int | None:
    """Output channels: dim 1 of an NCHW map (a Conv's, BN's, or an elementwise op's on a
    map), the last dim of a Gemm's."""
    if node.shape is None or len(node.shape) < 2:
        return None
    nchw = node.op in ("Conv", "ConvTranspose", "BatchNormalization") or (
        node.op in ("Mul", "Add") and len(node.shape) == 4
    )
    c = node.shape[1] if nchw else node.shape[-1]
    return c if isinstance(c, int) and c > 0 else None


def _has_bias(node: OpNode, c: int, out: int) -> bool:
    """Whether a Conv/Gemm's counts include a bias (ir convention: C params, out FLOPs)."""
    weights = node.params - c
    return (
        weights > 0 and (2 * out * weights) % c == 0 and node.flops == 2 * out * weights // c + out
    )


@CANONICALISERS.register("fold_linear")
class FoldLinear(CanonicalPass):
    """One spelling of a linear layer, whatever the exporter or tool made of it.

    * A MatMul with a weight (it has parameters: a ``Linear`` on a [batch, tokens, dim]
      tensor) is a ``Gemm``, as onnxsim and the TorchScript exporter spell a ``Linear`` on
      a matrix.
    * A bias added after a Conv, ConvTranspose or Gemm that feeds only it (``MatMul -> Add``
      of the TorchScript exporter on 3-d inputs; ``ConvInteger -> Add`` of dynamic
      quantization) joins it with the ir counts of a bias: one parameter per output channel
      and one FLOP per output element (none when it already has a bias, which absorbs it).
    * A per-channel scale right after one of them (a layer scale, ``x * gamma``) joins it
      with no counts of its own: a folding tool (onnxsim) multiplies it into the weights. A
      BatchNormalization absorbs a per-channel scale or shift after it the same way (the
      TorchScript exporter's constant folding folds both into the Conv before them).
    * GroupNorm below opset 18 (InstanceNormalization of the groups, then a per-channel
      scale and shift) is one ``GroupNormalization``, as opset 18 writes it.

    * Biases that onnxsim leaves after the Split of projections it merged join the Gemm, and
      Gemms that read the same tensor and nothing else merge (:func:`merge_siblings`).

    The bias and scale are Add and Mul nodes with one data input and one parameter per
    output channel.
    """

    def __call__(self, graph: OpGraph) -> OpGraph:
        nodes = [
            OpNode("Gemm", n.name, n.flops, n.params, n.shape, n.const, n.clamp, n.flops_unknown)
            if n.op == "MatMul" and n.params > 0
            else _shared_weight_gemm(graph, i) or n
            for i, n in enumerate(graph.nodes)
        ]
        graph = OpGraph(nodes, graph.edges, graph.name)
        while True:  # a bias, then a scale
            folded = self._fold_once(graph)
            if folded.num_nodes == graph.num_nodes:
                break
            graph = folded
        return merge_siblings(graph)

    @staticmethod
    def _fold_once(graph: OpGraph) -> OpGraph:
        groups, new = [], []
        used: set[int] = set()
        split_biases: dict[int, tuple[int, int]] = {}  # Add -> (Gemm, C of its part)
        for i, n in enumerate(graph.nodes):
            if n.op not in ("Add", "Mul") or graph.in_degree(i) != 1 or i in used:
                continue
            p = graph.predecessors(i)[0]
            prod = graph.nodes[p]
            if prod.op == "Split" and n.op == "Add":
                gemm = _split_of_gemm(graph, p)
                if gemm is not None and n.params and n.params == _last(n.shape):
                    split_biases[i] = (gemm, n.params)
                continue
            if prod.op in ("InstanceNormalization", "GroupNormalization") and not (
                graph.out_degree(p) != 1 or p in used or n.params != _channels(n)
            ):  # GroupNorm below opset 18: InstanceNorm of the groups, then the affine
                used.update((p, i))
                groups.append([p, i])
                new.append(
                    OpNode(
                        "GroupNormalization",
                        f"{prod.name}+{n.name}",
                        prod.flops,
                        prod.params + n.params,
                        n.shape,
                    )
                )
                continue
            c = _channels(prod)
            affine = prod.op == "BatchNormalization"  # a per-channel affine absorbs it as is
            if (prod.op not in LINEAR and not affine) or graph.out_degree(p) != 1:
                continue
            out = numel(prod.shape)
            if p in used or c is None or n.params != c or out is None or n.shape != prod.shape:
                continue
            flops, params = prod.flops, prod.params
            if n.op == "Add" and not affine and not _has_bias(prod, c, out):
                flops, params = flops + out, params + c
            used.update((p, i))
            groups.append([p, i])
            new.append(OpNode(prod.op, f"{prod.name}+{n.name}", flops, params, prod.shape))
        if split_biases:  # onnxsim's merged projections keep their biases after the Split
            nodes = list(graph.nodes)
            for i, (g, c) in split_biases.items():
                m = nodes[g]
                out = numel(graph.nodes[i].shape) or 0
                nodes[g] = OpNode(m.op, m.name, m.flops + out, m.params + c, m.shape)
            graph = bypass(OpGraph(nodes, graph.edges, graph.name), set(split_biases))
            return graph
        return contract_groups(graph, groups, new)


def _last(shape: tuple[int | None, ...] | None) -> int | None:
    d = shape[-1] if shape else None
    return d if isinstance(d, int) else None


def _split_of_gemm(graph: OpGraph, split: int) -> int | None:
    """The Gemm whose output only the Split ``split`` reads, else None."""
    if graph.in_degree(split) != 1:
        return None
    g = graph.predecessors(split)[0]
    ok = graph.nodes[g].op == "Gemm" and graph.nodes[g].params and graph.out_degree(g) == 1
    return g if ok else None


def _shared_weight_gemm(graph: OpGraph, i: int) -> OpNode | None:
    """A MatMul of one data input whose weight an earlier node already counted (ALBERT's
    layers share one set; the ir counts a tensor once) as the Gemm it is, with the
    ``[K, N]`` weight it reads: tools that write each use as its own initializer (constant
    folding, onnxsim, onnxruntime) give every layer its weight."""
    n = graph.nodes[i]
    if n.op != "MatMul" or n.params or graph.in_degree(i) != 1 or n.const:
        return None
    # K from the ir's FLOPs (2 x outputs x K), not from the input's shape: the tensor the
    # graph shows as its input may be a view of the one the product reads.
    out, cols = numel(n.shape), _last(n.shape)
    k = int(n.flops) // (2 * out) if out and n.flops and not n.flops_unknown else 0
    if not k or not cols:
        return None
    return OpNode("Gemm", n.name, n.flops, k * cols, n.shape, n.const, n.clamp, n.flops_unknown)


def merge_siblings(graph: OpGraph) -> OpGraph:
    """Gemms that read the same tensor and nothing else (the query, key and value projections;
    a gated MLP's gate and up projections) become one Gemm and a Split, as GPT-2 and timm
    spell them and as onnxsim merges them. Counts add up: the ir FLOPs of a Gemm are linear
    in its output columns."""
    by_input: dict[int, list[int]] = defaultdict(list)
    for i, n in enumerate(graph.nodes):
        if n.op == "Gemm" and n.params and graph.in_degree(i) == 1 and n.shape:
            by_input[graph.predecessors(i)[0]].append(i)
    groups, new, splits = [], [], []
    for _, members in sorted(by_input.items()):
        # Rows, not shapes: onnxruntime's MatMul+Add fusion flattens a Gemm's leading dims.
        shapes = {numel(graph.nodes[k].shape[:-1]) for k in members}  # type: ignore[index]
        cols = [_last(graph.nodes[k].shape) for k in members]
        if len(members) < 2 or len(shapes) != 1 or None in shapes or None in cols:
            continue
        first = graph.nodes[members[0]]
        shape = (*first.shape[:-1], sum(cols))  # type: ignore[index,arg-type]
        groups.append(members)
        new.append(
            OpNode(
                "Gemm",
                "+".join(graph.nodes[k].name for k in members),
                sum(graph.nodes[k].flops for k in members),
                sum(graph.nodes[k].params for k in members),
                shape,
            )
        )
        splits.append(OpNode("Split", first.name + "/split", 0, 0, first.shape))
    if not groups:
        return graph
    # Insert each Split between its merged Gemm and the Gemms' consumers.
    heads = [min(g) for g in groups]
    k0 = len(graph.nodes)
    edges = []
    for s, d in graph.edges:
        h = next((j for j, g in enumerate(groups) if s in g), None)
        edges.append((k0 + h, d) if h is not None else (s, d))
    edges += [(heads[j], k0 + j) for j in range(len(groups))]
    with_splits = OpGraph([*graph.nodes, *splits], edges, graph.name)
    return contract_groups(with_splits, groups, new)


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
