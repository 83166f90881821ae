"""Canonicalisation passes: remove exporter and tooling differences before merging.

A pass maps an OpGraph to an OpGraph. Passes run in recipe order (``graph.canonical``) before
the merge rules of the paper (section 3.2.2). The same network reaches a platform through
different exporters and tools (the TorchScript or the dynamo exporter, constant folding,
onnxsim, quantization, another opset), and each of them spells the graph differently; the
passes bring such spellings to one form, so that the node features of eq. 3 (op type, FLOPs
and parameter digits) agree. The recommended lists and order are graph presets
(:mod:`hnnframe.presets`: ``ROBUST_PASSES``, and ``INVARIANT_PASSES``, which adds two passes
that buy more invariance with discrimination). The passes are described in
``docs/robustness.md``.

Invariants every pass keeps: Constant nodes and initializers are not nodes; a removed node's
predecessors are connected to its successors (:func:`bypass`) unless the node carried no data
(shape metadata, constants); a node that absorbs others gets a FLOP and parameter count that
follows the convention of :mod:`hnnframe.ir`, so that a graph spelled either way ends with the
same numbers.

Writing a pass from your own module::

    from hnnframe.canonical import CANONICALISERS, CanonicalPass, bypass

    @CANONICALISERS.register("drop_nop")
    class DropNop(CanonicalPass):
        def __call__(self, graph):
            return bypass(graph, {i for i, n in enumerate(graph.nodes) if n.op == "Nop"})
"""

from __future__ import annotations

# The built-in passes register themselves in CANONICALISERS when their modules are imported.
from hnnframe.canonical import fold as _fold  # noqa: F401
from hnnframe.canonical import fused as _fused  # noqa: F401
from hnnframe.canonical import motifs as _motifs  # noqa: F401
from hnnframe.canonical import movable as _movable  # noqa: F401
from hnnframe.canonical import plumbing as _plumbing  # noqa: F401
from hnnframe.canonical import quantization as _quantization  # noqa: F401
from hnnframe.canonical import spelling as _spelling  # noqa: F401
from hnnframe.canonical.base import (
    CANONICALISERS,
    WINDOW_OPS,
    CanonicalPass,
    DropIdentity,
    apply_canonical,
    bypass,
    contract_groups,
    numel,
    remove,
    spatial,
)

__all__ = [
    "CANONICALISERS",
    "CanonicalPass",
    "DropIdentity",
    "WINDOW_OPS",
    "apply_canonical",
    "bypass",
    "contract_groups",
    "numel",
    "remove",
    "spatial",
]
