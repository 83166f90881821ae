"""Canonicalisation passes: remove exporter and tooling differences before merging.

A pass maps an OpGraph to an OpGraph. Passes run in recipe order (``graph.canonical``) before
the merge rules of the paper (section 3.2.2). The same network reaches a platform through
different exporters and tools (the TorchScript or the dynamo exporter, constant folding,
onnxsim, quantization, another opset), and each of them spells the graph differently; the
passes bring such spellings to one form, so that the node features of eq. 3 (op type, FLOPs
and parameter digits) agree. :data:`ROBUST_PASSES` is the recommended list and order;
:data:`INVARIANT_PASSES` adds two passes that buy more invariance with discrimination. The
passes are described in ``docs/robustness.md``.

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

# The recommended order (recipes/hnn_net_robust.yaml): constants and quantization first, so
# that later passes see plain float operators; fused operators as their decomposed spelling
# (normalise_fused) before the patterns that fuse decompositions; plumbing before the
# op-sequence patterns, so that a pattern never has to skip a Reshape; linear layers in one
# spelling (fold_linear) while biases and scales still carry their parameters, before
# normalise_spelling drops the constants of weightless ops; spellings and no-ops; then BN
# folding, which needs every BN right after its producer. None of these loses information that tells two
# architectures apart. The optional passes that do (absorb_activation, normalise_resolution)
# go after them, resolution last because it rescales FLOPs that the folds sum: see
# INVARIANT_PASSES.
ROBUST_PASSES: list[str] = [
    "fold_constants",
    "fold_qdq",
    "normalise_fused",
    "drop_plumbing",
    "fuse_decompositions",
    "fold_linear",
    "normalise_spelling",
    "drop_noop",
    "strip_preprocessing",
    "fold_bn",
    "drop_classifier_pool",
]
# Also identical graphs for QDQ quantization (which deletes ReLUs) and another input
# resolution, at the price of ReLU against ReLU6 and of absolute FLOPs.
INVARIANT_PASSES: list[str] = [*ROBUST_PASSES, "absorb_activation", "normalise_resolution"]

__all__ = [
    "CANONICALISERS",
    "CanonicalPass",
    "DropIdentity",
    "INVARIANT_PASSES",
    "ROBUST_PASSES",
    "WINDOW_OPS",
    "apply_canonical",
    "bypass",
    "contract_groups",
    "numel",
    "remove",
    "spatial",
]
