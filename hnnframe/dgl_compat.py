"""The one place that imports DGL.

Why this module exists: the newest DGL on PyPI for CPython 3.11 (2.1.0, a CPU build) targets
torch <= 2.2.1, and on current torch (2.14 here) ``import dgl`` fails in two places:

1. ``dgl.graphbolt`` has no C++ library built for this torch (upstream dmlc/dgl#7822 and
   #7247) and imports ``torchdata.datapipes``, which current torchdata removed. ``import dgl``
   pulls GraphBolt in through ``dgl.distributed``. hnnframe uses neither, so an empty
   ``dgl.graphbolt`` module is put in ``sys.modules`` before DGL is imported.
2. ``dgl.utils`` falls back to ``setuptools.extern.packaging`` when ``packaging`` is missing,
   and current setuptools removed ``setuptools.extern``. ``packaging`` is a dependency of
   hnnframe, and the alias below covers environments where it is shadowed.

Message passing, ``dgl.nn`` layers and ``dgl.batch`` are untouched (tests/test_dgl_compat.py
runs GraphConv, GATConv and GINConv forward and backward).

When it can go: once a DGL release built for the installed torch is on PyPI, delete the stub
and import dgl directly here (keep this module as the single import point).
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any

from hnnframe.errors import GraphError, HnnError


def _install_shims() -> None:
    if "dgl.graphbolt" not in sys.modules:
        stub = types.ModuleType("dgl.graphbolt")
        stub.__doc__ = "Stub installed by hnnframe.dgl_compat: GraphBolt is not used."

        def _unavailable(name: str) -> Any:
            raise AttributeError(
                f"dgl.graphbolt.{name} is unavailable: hnnframe stubs GraphBolt (see dgl_compat)"
            )

        stub.__getattr__ = _unavailable  # type: ignore[attr-defined]
        sys.modules["dgl.graphbolt"] = stub
    try:
        import setuptools.extern.packaging  # noqa: F401
    except ImportError:
        import packaging
        import packaging.version

        ext = types.ModuleType("setuptools.extern")
        ext.packaging = packaging  # type: ignore[attr-defined]
        sys.modules.setdefault("setuptools.extern", ext)
        sys.modules.setdefault("setuptools.extern.packaging", packaging)
        sys.modules.setdefault("setuptools.extern.packaging.version", packaging.version)


def _import_dgl() -> Any:
    # DGL otherwise prints a backend banner and reads ~/.dgl/config.json.
    os.environ.setdefault("DGLBACKEND", "pytorch")
    _install_shims()
    try:
        import dgl as _dgl
    except Exception as e:  # pragma: no cover - environment problem
        raise HnnError(
            f"cannot import DGL ({type(e).__name__}: {e}); see docs/dgl-compat.md"
        ) from e
    return _dgl


dgl = _import_dgl()

from dgl.nn import pytorch as dglnn  # noqa: E402


def to_dgl(graph: Any, feat: Any = None, self_loops: bool = True) -> Any:
    """An undirected DGLGraph of an OpGraph (both directions of every edge, as in the paper).

    Args:
        graph: an :class:`hnnframe.ir.OpGraph`.
        feat: optional ``[num_nodes, D]`` node features stored as ``ndata["feat"]``.
        self_loops: add one self loop per node (see ``OpGraph.undirected_edges``).
    """
    import torch

    n = len(graph.nodes)
    if n == 0:
        raise GraphError("cannot build a DGL graph from an empty graph")
    u, v = graph.undirected_edges(self_loops)
    g = dgl.graph((torch.from_numpy(u), torch.from_numpy(v)), num_nodes=n)
    if feat is not None:
        g.ndata["feat"] = torch.as_tensor(feat, dtype=torch.float32)
    return g


__all__ = ["dgl", "dglnn", "to_dgl"]
