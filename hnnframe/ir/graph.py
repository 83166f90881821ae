"""OpNode and OpGraph: the framework-neutral operator graph of Stage 1 (paper section 3.2).

An :class:`OpGraph` has one node per ONNX operator (Constant nodes and initializers are not
nodes) and one directed edge per tensor that flows from a producer to a consumer. Each node
carries its op type, FLOPs, trainable parameter count, output shape and ONNX node name; these
are the vertex attributes F = {f1, f2, f3} of section 3.2.3. FLOPs follow the convention of
:mod:`hnnframe.ir.flops`; :func:`hnnframe.ir.onnx.from_onnx` builds a graph from an ONNX model.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import networkx as nx


@dataclass
class OpNode:
    """One operator (or one merged block of operators)."""

    op: str
    name: str = ""
    flops: int = 0
    params: int = 0
    shape: tuple[int | None, ...] | None = None
    # True when the node's output depends on no graph input: it reads only initializers,
    # Constant outputs and other constant nodes (a DequantizeLinear of an int8 weight, a
    # Transpose of a weight), or it is Shape/Size (static shapes make their output constant).
    # Optional: graphs saved before this field existed load with False.
    const: bool = False
    # QuantizeLinear only: the real-valued range (lo, hi) it saturates to, from its scale and
    # zero point when the file holds them. onnxruntime's QDQ quantizer deletes a ReLU by
    # giving the Q before it lo == 0, so ``fold_qdq`` can put the ReLU back.
    clamp: tuple[float, float] | None = None
    # True when ``flops`` could not be computed: a shape the op's FLOP rule needs is unknown
    # (an ONNX file whose shape constants are absent), or the op has no rule and is not data
    # movement. ``flops`` then holds what the known part gives (often 0), a lower bound.
    # Serialised only when set, so graphs without such nodes keep their files and hashes.
    flops_unknown: bool = False
    # onnxruntime's FusedConv and FusedGemm only: the activation fused into the node (their
    # ``activation`` attribute), which ``normalise_fused`` gives back as its own node.
    # Serialised only when set, like the fields above.
    activation: str | None = None
    # onnxruntime's Skip*LayerNormalization only: whether the node has its residual-sum
    # output (output 3). onnxruntime writes it for a pre-norm network, whose next residual
    # adds to the sum; a post-norm one (BERT) has only the normalised output, so
    # ``normalise_fused`` routes every consumer through the norm. Serialised only when set.
    sum_out: bool = False


@dataclass
class OpGraph:
    """A directed operator graph; edges are ``(src, dst)`` index pairs into ``nodes``."""

    nodes: list[OpNode] = field(default_factory=list)
    edges: list[tuple[int, int]] = field(default_factory=list)
    name: str = ""

    def __post_init__(self) -> None:
        self.edges = sorted({(int(s), int(d)) for s, d in self.edges if s != d})
        self._succ: list[list[int]] | None = None
        self._pred: list[list[int]] | None = None

    # -- structure -------------------------------------------------------------------------
    def _adj(self) -> None:
        succ: list[list[int]] = [[] for _ in self.nodes]
        pred: list[list[int]] = [[] for _ in self.nodes]
        for s, d in self.edges:
            succ[s].append(d)
            pred[d].append(s)
        self._succ, self._pred = succ, pred

    def successors(self, i: int) -> list[int]:
        if self._succ is None:
            self._adj()
        assert self._succ is not None
        return self._succ[i]

    def predecessors(self, i: int) -> list[int]:
        if self._pred is None:
            self._adj()
        assert self._pred is not None
        return self._pred[i]

    def out_degree(self, i: int) -> int:
        return len(self.successors(i))

    def in_degree(self, i: int) -> int:
        return len(self.predecessors(i))

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def num_nodes(self) -> int:
        return len(self.nodes)

    @property
    def num_edges(self) -> int:
        return len(self.edges)

    def ops(self) -> list[str]:
        return [n.op for n in self.nodes]

    def op_histogram(self) -> dict[str, int]:
        return dict(Counter(self.ops()).most_common())

    @property
    def total_flops(self) -> int:
        return sum(n.flops for n in self.nodes)

    @property
    def total_params(self) -> int:
        return sum(n.params for n in self.nodes)

    @property
    def unknown_flops(self) -> int:
        """How many nodes have FLOPs that could not be computed (see OpNode.flops_unknown)."""
        return sum(1 for n in self.nodes if n.flops_unknown)

    def topological_order(self) -> list[int]:
        """Kahn's order, ties broken by node index so the result is deterministic."""
        import heapq

        indeg = [self.in_degree(i) for i in range(len(self.nodes))]
        heap = [i for i, d in enumerate(indeg) if d == 0]
        heapq.heapify(heap)
        order: list[int] = []
        while heap:
            i = heapq.heappop(heap)
            order.append(i)
            for j in self.successors(i):
                indeg[j] -= 1
                if indeg[j] == 0:
                    heapq.heappush(heap, j)
        if len(order) != len(self.nodes):  # a cycle: fall back to index order for the rest
            seen = set(order)
            order += [i for i in range(len(self.nodes)) if i not in seen]
        return order

    def subgraph(self, keep: Iterable[int], name: str | None = None) -> OpGraph:
        """The graph induced by ``keep`` (edges among kept nodes only), renumbered in order."""
        kept = sorted(set(keep))
        remap = {old: new for new, old in enumerate(kept)}
        edges = [(remap[s], remap[d]) for s, d in self.edges if s in remap and d in remap]
        nodes = [OpNode(**asdict(self.nodes[i])) for i in kept]
        return OpGraph(nodes, edges, self.name if name is None else name)

    def copy(self) -> OpGraph:
        return self.subgraph(range(len(self.nodes)))

    # -- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Nodes as ``[op, name, flops, params, shape]`` plus, only when set, ``const``,
        ``clamp``, ``flops_unknown``, ``activation`` and ``sum_out`` in that order (trailing defaults are left out, so a
        graph without them serialises as it did before those fields existed)."""
        return {
            "name": self.name,
            "nodes": [_node_row(n) for n in self.nodes],
            "edges": [list(e) for e in self.edges],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OpGraph:
        nodes = [
            OpNode(
                op,
                name,
                flops,
                params,
                tuple(shape) if shape is not None else None,
                bool(rest and rest[0]),
                tuple(rest[1]) if len(rest) > 1 and rest[1] is not None else None,
                bool(len(rest) > 2 and rest[2]),
                rest[3] if len(rest) > 3 else None,
                bool(len(rest) > 4 and rest[4]),
            )
            for op, name, flops, params, shape, *rest in d["nodes"]
        ]
        return cls(nodes, [tuple(e) for e in d["edges"]], d.get("name", ""))

    def content_hash(self) -> str:
        """sha256 of ops, FLOPs, parameters and edges (not names): a cache key for GED etc.

        ``flops_unknown`` is not part of it: GED and the encoders read only op, FLOPs and
        parameters, and graphs cached before the field existed keep their keys.
        """
        payload = json.dumps(
            [[(n.op, n.flops, n.params) for n in self.nodes], self.edges], separators=(",", ":")
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    def structure_labels(self) -> list[str]:
        """Each node's ``op|flops|params``: what :meth:`structure_hash` tells nodes apart by."""
        return [f"{n.op}|{int(n.flops)}|{int(n.params)}" for n in self.nodes]

    def structure_hash(self) -> str:
        """Like :meth:`content_hash` but independent of node order.

        Tools list independent branches in different orders; this Weisfeiler-Lehman hash of
        the directed graph labelled with op, FLOPs and parameters is equal for graphs that are
        equal up to node order (and, in practice, only for those).
        """
        import networkx as nx

        g = nx.DiGraph()
        for i, label in enumerate(self.structure_labels()):
            g.add_node(i, label=label)
        g.add_edges_from(self.edges)
        with warnings.catch_warnings():
            # networkx >= 3.5 warns on every call that its directed-graph hashes changed in
            # 3.5; hnnframe compares these hashes within one installation only.
            warnings.simplefilter("ignore", UserWarning)
            return str(nx.weisfeiler_lehman_graph_hash(g, node_attr="label", iterations=4))

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "nodes": self.num_nodes,
            "edges": self.num_edges,
            "flops": self.total_flops,
            "params": self.total_params,
            "ops": self.op_histogram(),
        }

    # -- conversions -----------------------------------------------------------------------
    def to_networkx(self) -> nx.DiGraph:
        """A networkx DiGraph with node attributes op, name, flops, params, shape."""
        import networkx as nx

        g = nx.DiGraph(name=self.name)
        for i, n in enumerate(self.nodes):
            g.add_node(
                i,
                op=n.op,
                name=n.name,
                flops=int(n.flops),
                params=int(n.params),
                shape="x".join("?" if s is None else str(s) for s in n.shape or ()),
            )
        g.add_edges_from(self.edges)
        return g

    def undirected_edges(self, self_loops: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """``(u, v)`` arrays of both directions of every edge, as the paper's GNN reads the
        graph, plus one self loop per node with ``self_loops`` (GCN needs them so that
        isolated nodes, which node deletion creates, keep a non-zero degree).
        :func:`hnnframe.dgl_compat.to_dgl` builds the DGLGraph from them."""
        src = np.array([s for s, _ in self.edges], dtype=np.int64)
        dst = np.array([d for _, d in self.edges], dtype=np.int64)
        u = np.concatenate([src, dst])
        v = np.concatenate([dst, src])
        if self_loops:
            ar = np.arange(len(self.nodes), dtype=np.int64)
            u, v = np.concatenate([u, ar]), np.concatenate([v, ar])
        return u, v


def _node_row(n: OpNode) -> list[Any]:
    row: list[Any] = [n.op, n.name, int(n.flops), int(n.params), list(n.shape) if n.shape else None]
    extra: list[Any] = [
        n.const,
        list(n.clamp) if n.clamp else None,
        n.flops_unknown,
        n.activation,
        n.sum_out,
    ]
    while extra and not extra[-1]:  # trailing defaults (False, None) are not written
        extra.pop()
    return row + extra


def batch_summary(graphs: Iterable[OpGraph]) -> list[dict[str, Any]]:
    return [g.summary() for g in graphs]
