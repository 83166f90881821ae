"""Graph edit distance (GED) for the topology loss of HNN-Net (paper section 3.4, eq. 7).

The topology loss ``L_topo(M1, M2) = (||FC3(M1) - FC3(M2)||^2 - min(GED(M1, M2), R))^2`` needs a
GED between the graphs of two models. Exact GED is NP-hard, so hnnframe computes the
Riesen-Bunke bipartite approximation (:class:`~hnnframe.ged.bipartite.BipartiteGED`, registered
as ``bipartite``) and keeps networkx's exact search (``exact``) to validate it on tiny graphs.

Costs (unit, on the *undirected* graph, as in the paper): substituting a node costs 0 if the op
labels are equal and 1 otherwise; inserting or deleting a node or an edge costs 1; edges carry
no labels, so an edge substitution is free.

A method is a :class:`GEDMethod`: ``method(g1, g2) -> float``. Methods that benefit from
per-graph preprocessing implement :meth:`GEDMethod.prepare` and :meth:`GEDMethod.distance`,
which :func:`~hnnframe.ged.pairwise.pairwise_ged` uses to prepare each graph once per worker.

Writing a method from your own module::

    from hnnframe.ged import GED_METHODS, GEDMethod

    @GED_METHODS.register("node_count")
    class NodeCountGED(GEDMethod):
        name = "node_count"

        def __call__(self, g1, g2):
            return float(abs(g1.num_nodes - g2.num_nodes))
"""

from __future__ import annotations

from hnnframe.ged.base import GED_METHODS, GEDMethod, build_ged_method, ged

# The built-in methods register themselves in GED_METHODS when their modules are imported.
from hnnframe.ged.bipartite import BipartiteGED
from hnnframe.ged.cache import GEDCache
from hnnframe.ged.exact import ExactGED
from hnnframe.ged.pairwise import pairwise_ged
from hnnframe.ged.prepared import induced_cost, lower_bound
from hnnframe.ged.wl import WLKernelDistance

__all__ = [
    "GED_METHODS",
    "GEDMethod",
    "BipartiteGED",
    "ExactGED",
    "GEDCache",
    "WLKernelDistance",
    "build_ged_method",
    "ged",
    "induced_cost",
    "lower_bound",
    "pairwise_ged",
]
