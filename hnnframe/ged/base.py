"""The GED method interface (paper section 3.4, eq. 7): :class:`GEDMethod` and its registry."""

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
