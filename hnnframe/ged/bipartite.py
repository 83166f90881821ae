"""Riesen-Bunke bipartite GED (paper section 3.4, eq. 7), returned as an exact upper bound.

Riesen and Bunke ("Approximate graph edit distance computation by means of bipartite graph
matching", Image and Vision Computing 27(7), 2009) reduce GED to a linear assignment problem on
an ``(n+m) x (n+m)`` cost matrix::

    C = [[ S   D ]      S[i, j] = [op_i != op_j] + |deg_i - deg_j|   (substitute i by j)
         [ I   0 ]]     D = diag(1 + deg_i), inf off the diagonal      (delete i)
                        I = diag(1 + deg_j), inf off the diagonal      (insert j)

where ``|deg_i - deg_j|`` is the optimal cost of matching the unlabeled edges incident to ``i``
and ``j`` (substitute the common ones for free, insert or delete the rest). The node assignment
that solves it (``scipy.optimize.linear_sum_assignment``) induces a complete edit path, and the
*exact cost of that path* (node costs plus edge insertions and deletions under the mapping) is
what is returned, so the value is always a true upper bound on the exact GED.

Speed-ups that keep that property:

* **Reduced assignment.** Here ``S[i, j] <= D[i, i] + I[j, j]`` for all ``i, j``, so some
  optimal assignment of ``C`` substitutes every node of the smaller graph (a deletion of ``i``
  plus an insertion of ``j`` can always be replaced by the substitution ``i -> j`` at no extra
  cost). The ``(n+m)`` problem is then equivalent to the rectangular ``n x m`` problem on
  ``S[i, j] - I[j, j]`` (``n <= m``), which has the same optimal value and is much faster to
  solve. ``reduced=False`` solves the full matrix instead; both give an equally optimal
  assignment (tests check that the optimal values agree).
* **Vectorised costs.** Cost matrices are built with numpy broadcasting; the cost of an edit
  path is evaluated in ``O(|E| log |E|)`` by mapping the edge list of one graph through the node
  map and looking the images up in the sorted edge keys of the other.

Two further steps only ever *lower* the returned value, and every value they compare is the
exact cost of an edit path, so the result stays an upper bound and is never above the plain
Riesen-Bunke value:

* **Two more starts from a sequence alignment.** DNN graphs are long chains of few distinct
  ops whose degrees are nearly all 2, so the Riesen-Bunke costs cannot tell apart the many
  equal-looking nodes along the chain; they get matched arbitrarily and most edges break. These
  starts align the two topological orders by dynamic programming (an edit distance of the op
  sequences, with a credit of 2 for matching two consecutive nodes that are adjacent in both
  graphs, i.e. a kept edge), computed one row at a time with numpy (the in-row insertion chain
  is a running minimum), once forwards and once on the reversed orders, which breaks ties
  between equally good alignments the other way. Nodes of the smaller graph that an alignment
  leaves out are then assigned to the left-over nodes of the other by a small assignment
  problem (a substitution is never worse than a deletion plus an insertion).
* **Early exit.** :func:`lower_bound` is a lower bound on GED; a path that reaches it is
  optimal, and no further start is tried.
* **Refinement** (an integer form of IPFP, Leordeanu et al., NIPS 2009): given the current map,
  solve the assignment again on ``[op_i != op_j] + |deg_i - deg_j| / 2 - G[i, j]``, where
  ``G[i, j]`` counts the neighbours of ``i`` whose images are neighbours of ``j`` (a sparse
  product ``A1 P A2``), and keep the new map while its exact cost decreases. Refinement always
  solves the rectangular problem: substituting every node of the smaller graph is never worse,
  in exact edit-path cost, than deleting one node and inserting another.

``BipartiteGED(align=False, refine=0)`` is the plain Riesen-Bunke method.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment

from hnnframe.errors import ConfigError, GraphError
from hnnframe.ged.base import GED_METHODS, GEDMethod
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


def align_orders(a: PreparedGraph, b: PreparedGraph, reverse: bool = False) -> np.ndarray:
    """A node map from the edit-distance alignment of the two topological orders.

    Three-state dynamic programme (node ``i`` of ``a`` matched, deleted, or node ``j`` of ``b``
    inserted): a match costs ``[op_i != op_j]``, less 2 when the previous step also matched and
    both pairs of consecutive nodes are adjacent; a deletion or insertion costs 1. Rows are
    computed with numpy; the insertion chain inside a row is a running minimum.

    Args:
        a: the first graph.
        b: the second graph.
        reverse: align the reversed orders (ties between equally good alignments are then
            broken towards the outputs instead of the inputs).

    Returns:
        ``phi`` with ``phi[i]`` the node of ``b`` matched to node ``i`` of ``a``, or -1.
    """
    n, m = a.n, b.n
    oa, ob, ca, cb = a.order, b.order, a.chain, b.chain
    if reverse:
        # chain[k] says order[k-1] and order[k] are adjacent; reversed, it moves to n-k
        oa, ob = oa[::-1], ob[::-1]
        ca = np.concatenate([[False], ca[1:][::-1]])
        cb = np.concatenate([[False], cb[1:][::-1]])
    sub = (a.ops[oa][:, None] != b.ops[ob][None, :]).astype(np.float64)
    credit = 2.0 * (ca[:, None] & cb[None, :])
    inf = np.inf
    M = np.full((n + 1, m + 1), inf)  # last step matched a[i-1] with b[j-1]
    X = np.full((n + 1, m + 1), inf)  # last step deleted a[i-1]
    Y = np.full((n + 1, m + 1), inf)  # last step inserted b[j-1]
    M[0, 0] = 0.0
    cols = np.arange(m + 1, dtype=np.float64)
    Y[0, 1:] = cols[1:]
    best = np.minimum(M[0], Y[0])  # min of the three states in the previous row
    tmp = np.empty(m)
    for i in range(1, n + 1):
        np.add(best, 1.0, out=X[i])
        np.subtract(M[i - 1, :-1], credit[i - 1], out=tmp)
        np.minimum(tmp, best[:-1], out=tmp)
        np.add(sub[i - 1], tmp, out=M[i, 1:])
        # Y[i, j] = min_k<j (min(M[i, k], X[i, k]) + j - k): a running minimum of (. - k)
        mx = np.minimum(M[i], X[i])
        run = np.minimum.accumulate(mx - cols)
        np.add(cols[1:], run[:-1], out=Y[i, 1:])
        best = np.minimum(mx, Y[i])
    phi = np.full(n, -1, dtype=np.int64)
    i, j = n, m
    state = _argmin3(M[i, j], X[i, j], Y[i, j])
    while i > 0 or j > 0:
        if state == 0:
            phi[oa[i - 1]] = ob[j - 1]
            c = credit[i - 1, j - 1]
            i, j = i - 1, j - 1
            state = _argmin3(M[i, j] - c, X[i, j], Y[i, j])
        elif state == 1:
            i -= 1
            state = _argmin3(M[i, j], X[i, j], Y[i, j])
        else:
            j -= 1
            state = _argmin3(M[i, j], X[i, j], Y[i, j])
    return phi


def _argmin3(x: float, y: float, z: float) -> int:
    """Index of the smallest of three values; ties prefer the earlier (a match)."""
    if x <= y and x <= z:
        return 0
    return 1 if y <= z else 2


def _complete(phi: np.ndarray, S: np.ndarray) -> np.ndarray:
    """Assign unmatched rows to unused columns by a small assignment on ``S``."""
    rows = np.flatnonzero(phi < 0)
    if rows.size == 0:
        return phi
    used = np.zeros(S.shape[1], dtype=bool)
    used[phi[phi >= 0]] = True
    free = np.flatnonzero(~used)
    r, c = linear_sum_assignment(S[np.ix_(rows, free)])
    phi = phi.copy()
    phi[rows[r]] = free[c]
    return phi


def _full_matrix(a: PreparedGraph, b: PreparedGraph, S: np.ndarray) -> np.ndarray:
    n, m = a.n, b.n
    C = np.full((n + m, n + m), np.inf)
    C[:n, :m] = S
    C[np.arange(n), m + np.arange(n)] = 1.0 + a.deg
    C[n + np.arange(m), np.arange(m)] = 1.0 + b.deg
    C[n:, m:] = 0.0
    return C


def rb_cost_matrix(a: PreparedGraph, b: PreparedGraph) -> np.ndarray:
    """The full ``(n+m) x (n+m)`` Riesen-Bunke cost matrix of the module docstring."""
    S = (a.ops[:, None] != b.ops[None, :]) + np.abs(a.deg[:, None] - b.deg[None, :])
    return _full_matrix(a, b, S)


@GED_METHODS.register("bipartite")
class BipartiteGED(GEDMethod):
    """Riesen-Bunke bipartite GED (paper section 3.4, eq. 7), an exact-cost upper bound.

    See the module docstring for the cost matrix and the speed-ups. The value is the exact
    cost of an edit path, so ``exact <= bipartite`` always holds; it is 0 for identical graphs
    and symmetric: the smaller graph (ties broken by content) always indexes the rows.

    Args:
        align: add the two starts from the alignment of the topological orders, forwards and
            backwards (see the module docstring); False runs the Riesen-Bunke start only.
        refine: at most this many refinement rounds per start; 0 disables refinement.
        reduced: solve the rectangular ``n x m`` problem (default) instead of the equivalent
            ``(n+m) x (n+m)`` one for the Riesen-Bunke start.
    """

    name = "bipartite"
    version = 2  # 1: development versions (without the reverse alignment start)

    def __init__(self, align: bool = True, refine: int = 10, reduced: bool = True):
        if int(refine) < 0:
            raise ConfigError(f"refine must be >= 0, got {refine}")
        self.align = bool(align)
        self.refine = int(refine)
        self.reduced = bool(reduced)

    def config(self) -> dict[str, Any]:
        # `reduced` does not change the optimum, but may pick another optimal assignment.
        return {"align": self.align, "refine": self.refine, "reduced": self.reduced}

    def prepare(self, graph: OpGraph) -> PreparedGraph:
        return prepare_graph(graph)

    def distance(self, a: PreparedGraph, b: PreparedGraph) -> float:
        if a.sig == b.sig:
            return 0.0
        if (a.n, a.num_edges, a.sig) > (b.n, b.num_edges, b.sig):
            a, b = b, a
        if a.n == 0:
            return float(b.n + b.num_edges)
        return float(self.best_map(a, b)[0])

    def _solve(self, a: PreparedGraph, b: PreparedGraph, S: np.ndarray) -> np.ndarray:
        """The node map (rows of ``a``) of an optimal assignment for substitution costs S."""
        if self.reduced:
            return _assign(S - (1.0 + b.deg)[None, :])
        phi = _assign(_full_matrix(a, b, S))[: a.n]
        phi[phi >= b.n] = -1
        return phi

    def best_map(self, a: PreparedGraph, b: PreparedGraph) -> tuple[int, np.ndarray]:
        """The lowest exact edit-path cost found and its node map (``a.n <= b.n`` expected).

        Starts are tried alignments first (usually the better ones on DNN graphs); the search
        stops as soon as a path reaches :func:`lower_bound`, which proves it optimal.
        """
        lb = _lower_bound(a, b)
        node = (a.ops[:, None] != b.ops[None, :]).astype(np.float64)
        ddeg = np.abs(a.deg[:, None] - b.deg[None, :])
        S = node + ddeg
        starts: list[Callable[[], np.ndarray]] = []
        if self.align:
            starts.append(lambda: _complete(align_orders(a, b), S))
            starts.append(lambda: _complete(align_orders(a, b, reverse=True), S))
        starts.append(lambda: self._solve(a, b, S))
        best: tuple[int, np.ndarray] | None = None
        for start in starts:
            phi = start()
            cost = _induced(a, b, phi)
            if self.refine and cost > lb:
                cost, phi = self._refine(a, b, node + 0.5 * ddeg, phi, cost, lb)
            if best is None or cost < best[0]:
                best = (cost, phi)
            if best[0] <= lb:
                break
        assert best is not None
        return best

    def _refine(
        self,
        a: PreparedGraph,
        b: PreparedGraph,
        base: np.ndarray,
        phi: np.ndarray,
        cost: int,
        lb: int,
    ) -> tuple[int, np.ndarray]:
        for _ in range(self.refine):
            G = _kept_counts(a, b, phi)
            new = _assign(base - G)
            if np.array_equal(new, phi):
                break
            new_cost = _induced(a, b, new)
            if new_cost >= cost:
                break
            cost, phi = new_cost, new
            if cost <= lb:
                break
        return cost, phi
