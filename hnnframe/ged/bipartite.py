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

from collections.abc import Callable
from typing import Any

import numpy as np

from hnnframe.errors import ConfigError
from hnnframe.ged.alignment import _complete, align_orders
from hnnframe.ged.base import GED_METHODS, GEDMethod
from hnnframe.ged.prepared import (
    PreparedGraph,
    _assign,
    _induced,
    _kept_counts,
    _lower_bound,
    prepare_graph,
)
from hnnframe.ir import OpGraph


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
