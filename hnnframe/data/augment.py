"""Data augmentation of the paper (section 4.1.3): random deletion of nodes with their edges."""

from __future__ import annotations

import numpy as np

from hnnframe.errors import ConfigError
from hnnframe.ir import OpGraph


def delete_nodes(graph: OpGraph, frac: float = 0.1, seed: int = 0) -> OpGraph:
    """Delete ``round(frac * n)`` nodes chosen uniformly at random, with their edges.

    The remaining graph is not re-wired (edges through a deleted node are lost), as in the
    paper. Seeded: the same graph, fraction and seed always give the same result.
    """
    if not 0.0 <= frac < 1.0:
        raise ConfigError(f"node deletion fraction must be in [0, 1), got {frac}")
    n = len(graph.nodes)
    k = int(round(frac * n))
    if k == 0:
        return graph.copy()
    rng = np.random.default_rng(seed)
    drop = set(rng.choice(n, size=k, replace=False).tolist())
    return graph.subgraph(i for i in range(n) if i not in drop)
