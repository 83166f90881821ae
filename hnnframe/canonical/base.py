"""The canonicalisation pass interface and the graph surgery helpers passes share.

:data:`CANONICALISERS` is the registry of passes; :class:`CanonicalPass` their base class;
:func:`bypass`, :func:`remove` and :func:`contract_groups` the edits that keep the invariants
of :mod:`hnnframe.canonical` (a removed node's predecessors connect to its successors, a node
that absorbs others sums their FLOPs and parameters).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from hnnframe.ir import OpGraph, OpNode
from hnnframe.registry import Registry

CANONICALISERS: Registry[CanonicalPass] = Registry("canonicaliser")


class CanonicalPass:
    """Base class of canonicalisation passes: ``pass(graph) -> graph``."""

    def __call__(self, graph: OpGraph) -> OpGraph:
        raise NotImplementedError


def bypass(graph: OpGraph, drop: set[int]) -> OpGraph:
    """Remove ``drop`` nodes, connecting each one's predecessors to its successors."""
    if not drop:
        return graph
    succ = {i: graph.successors(i) for i in range(len(graph.nodes))}

    def targets(i: int, seen: set[int]) -> set[int]:
        out: set[int] = set()
        for j in succ[i]:
            if j in drop:
                if j not in seen:
                    seen.add(j)
                    out |= targets(j, seen)
            else:
                out.add(j)
        return out

    edges = {(s, d) for s, d in graph.edges if s not in drop and d not in drop}
    for s in range(len(graph.nodes)):
        if s in drop:
            continue
        if any(j in drop for j in succ[s]):
            edges |= {(s, t) for t in targets(s, set())}
    full = OpGraph(graph.nodes, sorted(edges), graph.name)
    return full.subgraph(i for i in range(len(graph.nodes)) if i not in drop)


def remove(graph: OpGraph, drop: set[int]) -> OpGraph:
    """Remove ``drop`` nodes with their edges, without bridging (they carried no data)."""
    if not drop:
        return graph
    return graph.subgraph(i for i in range(len(graph.nodes)) if i not in drop)


def contract_groups(
    graph: OpGraph, groups: Sequence[Sequence[int]], new_nodes: Sequence[OpNode]
) -> OpGraph:
    """Replace each group of nodes by one new node, placed at the group's smallest index.

    Edges inside a group vanish; edges into or out of a group attach to its new node. Groups
    must not overlap.
    """
    if not groups:
        return graph
    head_of: dict[int, int] = {}
    node_of: dict[int, OpNode] = {}
    for group, node in zip(groups, new_nodes, strict=True):
        h = min(group)
        node_of[h] = node
        for i in group:
            head_of[i] = h
    index: dict[int, int] = {}
    nodes: list[OpNode] = []
    for i, n in enumerate(graph.nodes):
        if head_of.get(i, i) != i:
            continue
        index[i] = len(nodes)
        kept = OpNode(
            n.op,
            n.name,
            n.flops,
            n.params,
            n.shape,
            n.const,
            activation=n.activation,
            sum_out=n.sum_out,
        )
        nodes.append(node_of.get(i) or kept)
    edges = []
    for s, d in graph.edges:
        hs, hd = head_of.get(s, s), head_of.get(d, d)
        if hs != hd:
            edges.append((index[hs], index[hd]))
    return OpGraph(nodes, edges, graph.name)


def numel(shape: Sequence[int | None] | None) -> int | None:
    """Element count of a fully known shape, else None."""
    if shape is None or any(d is None for d in shape):
        return None
    return int(math.prod(shape))  # type: ignore[arg-type]


# Windowed operators. Their rank-4 outputs are images (attention's [batch, heads, tokens, dim]
# is not), so their map areas define a graph's resolution; an explicit Pad in front of one
# belongs to its window.
WINDOW_OPS = frozenset({"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool"})


def spatial(shape: Sequence[int | None] | None) -> int | None:
    """H*W (or D*H*W) of an NCHW-style shape of rank >= 4 with known dims, else None."""
    if shape is None or len(shape) < 4:
        return None
    return numel(shape[2:])


@CANONICALISERS.register("drop_identity")
class DropIdentity(CanonicalPass):
    """Remove Identity and Dropout nodes (no-ops at inference), bridging their edges."""

    ops = frozenset({"Identity", "Dropout"})

    def __call__(self, graph: OpGraph) -> OpGraph:
        return bypass(graph, {i for i, n in enumerate(graph.nodes) if n.op in self.ops})


def apply_canonical(graph: OpGraph, specs: Iterable[str | dict[str, Any]]) -> OpGraph:
    for spec in specs:
        graph = CANONICALISERS.build(spec)(graph)
    return graph
