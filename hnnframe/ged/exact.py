"""Exact GED by networkx's A* search, for validating the bipartite method on tiny graphs."""

from __future__ import annotations

import time
from typing import Any

from hnnframe.errors import ConfigError, HnnError
from hnnframe.ged.base import GED_METHODS, GEDMethod
from hnnframe.ir import OpGraph
from hnnframe.log import get_logger

log = get_logger(__name__)


def _undirected(graph: OpGraph) -> Any:
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from((i, {"op": node.op}) for i, node in enumerate(graph.nodes))
    g.add_edges_from(graph.edges)
    return g


def _same_op(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["op"] == b["op"]


@GED_METHODS.register("exact")
class ExactGED(GEDMethod):
    """Exact GED with the costs of paper section 3.4, eq. 7 (``networkx.graph_edit_distance``).

    The graphs are taken as undirected; substitution costs 0 for equal op labels and 1
    otherwise, and node and edge insertion and deletion cost 1 (networkx's defaults with
    ``node_match`` on the op label). The search is exponential: use it on graphs of a few
    nodes only.

    Args:
        timeout: seconds after which networkx stops and returns the best path found so far,
            which may then be above the exact GED (a warning is logged); None: no limit.
        max_nodes: refuse pairs with more nodes than this in total (a guard against starting
            a search that would never end); None: no limit.
    """

    name = "exact"
    version = 1

    def __init__(self, timeout: float | None = 10.0, max_nodes: int | None = 24):
        if timeout is not None and timeout <= 0:
            raise ConfigError(f"timeout must be positive, got {timeout}")
        self.timeout = timeout
        self.max_nodes = max_nodes

    def config(self) -> dict[str, Any]:
        return {}  # values do not depend on the limits, unless the timeout is hit

    def __call__(self, g1: OpGraph, g2: OpGraph) -> float:
        import networkx as nx

        total = g1.num_nodes + g2.num_nodes
        if self.max_nodes is not None and total > self.max_nodes:
            raise ConfigError(
                f"exact GED is for tiny graphs: {total} nodes in all > max_nodes={self.max_nodes}"
            )
        t0 = time.perf_counter()
        value = nx.graph_edit_distance(
            _undirected(g1), _undirected(g2), node_match=_same_op, timeout=self.timeout
        )
        if value is None:
            raise HnnError(f"exact GED found no edit path within {self.timeout} s")
        if self.timeout is not None and time.perf_counter() - t0 >= self.timeout:
            log.warning(
                "exact GED hit its %s s timeout; %s may be above the exact value",
                self.timeout,
                value,
            )
        return float(value)
