"""A topology target the hub corpus can afford: the WL subtree kernel's distance.

All-pairs bipartite GED over hundreds of architectures of thousands of nodes is out of reach
(``benchmarks/ged_scale.py``), and so is GED on every sampled pair. The WL subtree kernel
(Shervashidze et al. 2011) compares the histograms of rooted subtrees instead: with ``phi``
the log-scaled, L2-normalised histogram (:mod:`hnnframe.wl`), the distance is
``scale * (1 - <phi(G1), phi(G2)>)``, in ``[0, scale]``: 0 for graphs equal up to node order,
``scale`` for graphs with no subtree in common. It is cheap (one histogram per graph, a sparse
dot product per pair), it is 0 for re-exports that canonicalisation makes identical and small
for copies with a few nodes deleted, and it grows with the share of structure two
architectures do not share, which is what the topology loss (eq. 7) wants the code to follow.
"""

from __future__ import annotations

import math
from typing import Any

from hnnframe.ged.base import GED_METHODS, GEDMethod
from hnnframe.ir import OpGraph


@GED_METHODS.register("wl_kernel")
class WLKernelDistance(GEDMethod):
    """``scale * (1 - cosine)`` of WL subtree histograms (log1p counts)."""

    name = "wl_kernel"
    version = 1

    def __init__(self, iterations: int = 3, labels: str = "op_digits", scale: float = 1.0) -> None:
        from hnnframe.wl import node_labels

        node_labels(OpGraph(), labels)  # validate early
        self.iterations, self.labels, self.scale = int(iterations), labels, float(scale)

    def config(self) -> dict[str, Any]:
        return {"iterations": self.iterations, "labels": self.labels, "scale": self.scale}

    def prepare(self, graph: OpGraph) -> dict[str, float]:
        from hnnframe.wl import wl_histogram

        h = {k: math.log1p(v) for k, v in wl_histogram(graph, self.iterations, self.labels).items()}
        norm = math.sqrt(sum(v * v for v in h.values())) or 1.0
        return {k: v / norm for k, v in h.items()}

    def distance(self, a: dict[str, float], b: dict[str, float]) -> float:
        if len(a) > len(b):
            a, b = b, a
        dot = sum(v * b.get(k, 0.0) for k, v in a.items())
        return self.scale * max(0.0, 1.0 - dot)
