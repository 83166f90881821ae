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

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from hnnframe.ir import OpGraph
from hnnframe.registry import Registry

GED_METHODS: Registry[GEDMethod] = Registry("GED method")


class GEDMethod:
    """Base class of graph edit distance methods (paper section 3.4, eq. 7).

    Subclasses either override :meth:`__call__`, or implement :meth:`distance` on the
    objects that :meth:`prepare` returns (the default ``__call__`` chains the two).

    Attributes:
        name: the registered name; part of the cache key of :func:`pairwise_ged`.
        version: bump it when a change alters the values, so cached values are not reused.
    """

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1

    def __call__(self, g1: OpGraph, g2: OpGraph) -> float:
        """The edit distance between ``g1`` and ``g2`` (undirected, unit costs)."""
        return self.distance(self.prepare(g1), self.prepare(g2))

    def prepare(self, graph: OpGraph) -> Any:
        """Per-graph preprocessing shared by all pairs that contain ``graph``."""
        return graph

    def distance(self, a: Any, b: Any) -> float:
        """The distance between two prepared graphs; only needed if ``__call__`` is not overridden."""
        raise NotImplementedError(f"{type(self).__name__} implements neither __call__ nor distance")

    def config(self) -> dict[str, Any]:
        """The constructor arguments that change the values (part of the cache key)."""
        return {}

    def cache_key(self) -> str:
        """A string that identifies this method, its version and its settings."""
        name = self.name or f"{type(self).__module__}.{type(self).__qualname__}"
        cfg = self.config()
        suffix = f":{json.dumps(cfg, sort_keys=True, separators=(',', ':'))}" if cfg else ""
        return f"{name}@v{self.version}{suffix}"

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


def build_ged_method(spec: str | Mapping[str, Any] | GEDMethod) -> GEDMethod:
    """A :class:`GEDMethod` from ``"name"``, ``{"type": name, **kwargs}`` or an instance."""
    if isinstance(spec, GEDMethod):
        return spec
    return GED_METHODS.build(spec)


def ged(
    g1: OpGraph, g2: OpGraph, method: str | Mapping[str, Any] | GEDMethod = "bipartite"
) -> float:
    """GED between two graphs with the given method (default: Riesen-Bunke bipartite)."""
    return float(build_ged_method(method)(g1, g2))


# The built-in methods register themselves on import; they need GED_METHODS defined above.
from hnnframe.ged.bipartite import BipartiteGED, induced_cost, lower_bound  # noqa: E402
from hnnframe.ged.cache import GEDCache  # noqa: E402
from hnnframe.ged.exact import ExactGED  # noqa: E402
from hnnframe.ged.pairwise import pairwise_ged  # noqa: E402

__all__ = [
    "GED_METHODS",
    "GEDMethod",
    "BipartiteGED",
    "ExactGED",
    "GEDCache",
    "build_ged_method",
    "ged",
    "induced_cost",
    "lower_bound",
    "pairwise_ged",
]
