"""Graphs prepared for edit-path costs, and the exact cost of the path a node map induces.

Shared by :mod:`hnnframe.ged.bipartite` (paper section 3.4, eq. 7): a :class:`PreparedGraph`
holds a graph's op labels, degrees and sorted undirected edge keys, so the cost of the edit path
that a node map induces is evaluated in ``O(|E| log |E|)``; :func:`lower_bound` is a lower bound
on GED that lets a search stop early.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment

from hnnframe.errors import ConfigError, GraphError
from hnnframe.ir import OpGraph

# Op labels are compared as integers; codes are only ever compared within one process.
_OP_CODES: dict[str, int] = {}


@dataclass(frozen=True, eq=False)
class PreparedGraph:
    """An undirected graph in the arrays the bipartite method needs.

    Attributes:
        n: number of nodes.
        ops: ``[n]`` integer op codes (process-local).
        u: ``[E]`` first endpoints of the undirected edges, ``u < v``.
        v: ``[E]`` second endpoints.
        keys: ``[E]`` sorted edge keys ``u * n + v``.
        deg: ``[n]`` undirected degrees (float).
        order: ``[n]`` the nodes in topological order (Kahn, ties by index).
        chain: ``[n]`` ``chain[k]``: ``order[k-1]`` and ``order[k]`` are adjacent.
        adj: ``n x n`` symmetric CSR adjacency.
        sig: sha256 of the op labels and undirected edges (equal sig: identical graphs).
    """

    n: int
    ops: np.ndarray
    u: np.ndarray
    v: np.ndarray
    keys: np.ndarray
    deg: np.ndarray
    order: np.ndarray
    chain: np.ndarray
    adj: sp.csr_matrix
    sig: bytes

    @property
    def num_edges(self) -> int:
        return int(self.keys.size)


def _contains(sorted_keys: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Elementwise ``k in sorted_keys`` by binary search."""
    if sorted_keys.size == 0:
        return np.zeros(k.shape, dtype=bool)
    idx = np.searchsorted(sorted_keys, k)
    idx[idx >= sorted_keys.size] = 0
    return sorted_keys[idx] == k


def prepare_graph(graph: OpGraph) -> PreparedGraph:
    """Build the :class:`PreparedGraph` of ``graph``, treating its edges as undirected."""
    n = len(graph.nodes)
    ops = np.fromiter(
        (_OP_CODES.setdefault(node.op, len(_OP_CODES)) for node in graph.nodes),
        dtype=np.int64,
        count=n,
    )
    e = np.asarray(graph.edges, dtype=np.int64).reshape(-1, 2)
    if e.size and (e.min() < 0 or e.max() >= n):
        raise GraphError(f"graph {graph.name!r} has an edge to a node that does not exist")
    lo, hi = np.minimum(e[:, 0], e[:, 1]), np.maximum(e[:, 0], e[:, 1])
    keep = lo != hi
    keys = np.unique(lo[keep] * n + hi[keep])
    u, v = keys // max(n, 1), keys % max(n, 1)
    deg = np.bincount(np.concatenate([u, v]), minlength=n).astype(np.float64)
    order = np.asarray(graph.topological_order(), dtype=np.int64)
    chain = np.zeros(n, dtype=bool)
    if n > 1 and keys.size:
        lo2, hi2 = np.minimum(order[:-1], order[1:]), np.maximum(order[:-1], order[1:])
        chain[1:] = _contains(keys, lo2 * n + hi2)
    adj = sp.csr_matrix(
        (np.ones(2 * keys.size), (np.concatenate([u, v]), np.concatenate([v, u]))), shape=(n, n)
    )
    h = hashlib.sha256("\x00".join(node.op for node in graph.nodes).encode())
    h.update(b"\x01" + keys.tobytes())
    return PreparedGraph(n, ops, u, v, keys, deg, order, chain, adj, h.digest())


def _induced(a: PreparedGraph, b: PreparedGraph, phi: np.ndarray) -> int:
    """Exact cost of the edit path induced by ``phi`` (``phi[i]`` = image of ``i`` or -1).

    Nodes of ``a`` with ``phi = -1`` are deleted, nodes of ``b`` outside the image inserted; an
    edge of ``a`` is kept if both ends are mapped and their images are an edge of ``b``, else
    deleted; every edge of ``b`` that is not such an image is inserted.
    """
    sub = phi >= 0
    n_sub = int(sub.sum())
    node_cost = int(np.count_nonzero(a.ops[sub] != b.ops[phi[sub]])) + (a.n - n_sub) + (b.n - n_sub)
    kept = 0
    if a.num_edges and b.num_edges:
        pu, pv = phi[a.u], phi[a.v]
        ok = (pu >= 0) & (pv >= 0)
        k = np.minimum(pu[ok], pv[ok]) * b.n + np.maximum(pu[ok], pv[ok])
        kept = int(np.count_nonzero(_contains(b.keys, k)))
    return node_cost + a.num_edges + b.num_edges - 2 * kept


def induced_cost(g1: OpGraph, g2: OpGraph, mapping: Any) -> int:
    """Exact cost of the edit path that a node map induces (undirected, unit costs).

    Args:
        g1: the source graph.
        g2: the target graph.
        mapping: ``mapping[i]`` is the node of ``g2`` that node ``i`` of ``g1`` becomes, or -1
            (or None) to delete it; a dict ``{i: j}`` is accepted too (absent keys: deleted).
            Nodes of ``g2`` that are no image are inserted.

    Returns:
        The number of node substitutions with different ops, node insertions and deletions,
        and edge insertions and deletions; an upper bound on GED(g1, g2).

    Raises:
        ConfigError: if the map is not injective or names a node that does not exist.
    """
    a, b = prepare_graph(g1), prepare_graph(g2)
    if isinstance(mapping, dict):
        seq = [mapping.get(i) for i in range(a.n)]
    else:
        seq = list(mapping)
    if len(seq) != a.n:
        raise ConfigError(f"a node map needs {a.n} entries, got {len(seq)}")
    phi = np.array([-1 if j is None else int(j) for j in seq], dtype=np.int64)
    img = phi[phi >= 0]
    if img.size and (img.max() >= b.n or np.unique(img).size != img.size):
        raise ConfigError("a node map must be injective and stay within the target graph")
    if np.any(phi < -1):
        raise ConfigError("a node map entry is -1 (delete) or a node index")
    return _induced(a, b, phi)


def _lower_bound(a: PreparedGraph, b: PreparedGraph) -> int:
    # Each node operation fixes at most one unmatched label, each edge operation changes the
    # edge count by one.
    common = 0
    if a.n and b.n:
        ca = np.bincount(a.ops, minlength=max(a.ops.max(), b.ops.max()) + 1)
        cb = np.bincount(b.ops, minlength=ca.size)
        common = int(np.minimum(ca, cb).sum())
    return max(a.n, b.n) - common + abs(a.num_edges - b.num_edges)


def lower_bound(g1: OpGraph, g2: OpGraph) -> int:
    """A lower bound on GED(g1, g2): ``max(n, m) - |common op labels| + ||E1| - |E2||``.

    With the unit costs, at least ``max(n, m)`` minus the size of the common op-label
    multiset node operations are needed, and every edge operation changes the edge count by
    one. An edit path that reaches this bound is optimal; for a graph and a copy with nodes
    deleted (an induced subgraph, as :func:`hnnframe.data.augment.delete_nodes` makes), the
    bound equals the number of deleted nodes plus their edges, which is the exact GED.
    """
    return _lower_bound(prepare_graph(g1), prepare_graph(g2))


def _kept_counts(a: PreparedGraph, b: PreparedGraph, phi: np.ndarray) -> np.ndarray:
    """``G[i, j]``: neighbours of ``i`` whose images under ``phi`` are neighbours of ``j``.

    This is the sparse product ``A1 P A2`` of the module docstring, computed from the edge
    lists with one ``bincount`` (much cheaper than scipy's sparse products on small graphs).
    """
    i = np.concatenate([a.u, a.v])
    k = phi[np.concatenate([a.v, a.u])]
    ok = k >= 0
    i, k = i[ok], k[ok]
    ptr, nbr = b.adj.indptr, b.adj.indices
    cnt = ptr[k + 1] - ptr[k]
    total = int(cnt.sum())
    first = np.repeat(ptr[k] - (np.cumsum(cnt) - cnt), cnt)
    j = nbr[first + np.arange(total)]
    flat = np.bincount(np.repeat(i, cnt) * b.n + j, minlength=a.n * b.n)
    return flat.reshape(a.n, b.n)


def _assign(cost: np.ndarray) -> np.ndarray:
    rows, cols = linear_sum_assignment(cost)
    phi = np.full(cost.shape[0], -1, dtype=np.int64)
    phi[rows] = cols
    return phi
