"""Sequence-alignment starts for the bipartite GED (see :mod:`hnnframe.ged.bipartite`).

DNN graphs are long chains of few distinct ops, so the Riesen-Bunke costs cannot tell apart
equal-looking nodes along a chain. :func:`align_orders` aligns the two graphs' topological
orders by dynamic programming (an edit distance of the op sequences with a credit for kept
edges) and completes the map with a small assignment problem.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from hnnframe.ged.prepared import PreparedGraph


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
