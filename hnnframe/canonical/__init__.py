"""Canonicalisation passes: remove exporter and tooling differences before merging.

A pass maps an OpGraph to an OpGraph. Passes run in recipe order before the merge rules.
The robustness work (QDQ folding, BN folding, dynamo decompositions) adds more passes here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hnnframe.ir import OpGraph
from hnnframe.registry import Registry

CANONICALISERS: Registry[CanonicalPass] = Registry("canonicaliser")


class CanonicalPass:
    """Base class of canonicalisation passes."""

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


__all__ = ["CANONICALISERS", "CanonicalPass", "apply_canonical", "bypass"]
