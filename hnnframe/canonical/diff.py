"""Why two graphs differ, in one line: the op-level reason a copy's canonical graph is not the
reference's.

Three levels, the first that applies: the op histograms differ (``+FusedConv x20, -Conv x20``:
ops the copy has more, then fewer, of than the reference); the histograms are equal but the
node labels of :meth:`OpGraph.structure_hash` (``op|flops|params``) are not (``Conv sizes
differ (3 nodes)``); or the labels are equal and only the edges differ (``same nodes,
different wiring``). Equal graphs up to node order give ``""``. The text is what
``benchmarks/canonical_hub.py`` lists as a miss's reason; :func:`reason_kind` drops its counts
so that misses of one cause group together.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

from hnnframe.ir import OpGraph

WIRING = "same nodes, different wiring"
# A reason lists at most this many ops; the rest are counted ("... 3 more ops").
MAX_OPS = 6


def _listed(parts: list[str]) -> str:
    if len(parts) <= MAX_OPS:
        return ", ".join(parts)
    return ", ".join(parts[:MAX_OPS]) + f", ... {len(parts) - MAX_OPS} more ops"


def histogram_difference(ref: Mapping[str, int], copy: Mapping[str, int]) -> str:
    """``+OP xN`` for ops ``copy`` has more of than ``ref``, then ``-OP xN`` for fewer (each
    largest first, ties by name); ``""`` when the histograms are equal."""
    d = Counter(copy)
    d.subtract(Counter(ref))
    more = sorted(((k, v) for k, v in d.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))
    fewer = sorted(((k, -v) for k, v in d.items() if v < 0), key=lambda kv: (-kv[1], kv[0]))
    return _listed([f"+{k} x{n}" for k, n in more] + [f"-{k} x{n}" for k, n in fewer])


def node_labels(g: OpGraph) -> Counter[str]:
    """The multiset of ``op|flops|params`` labels (those :meth:`OpGraph.structure_hash` hashes)."""
    return Counter(g.structure_labels())


def graph_difference(ref: OpGraph, copy: OpGraph) -> str:
    """The op-level reason ``copy`` is not ``ref`` up to node order, or ``""`` if it is."""
    hist = histogram_difference(ref.op_histogram(), copy.op_histogram())
    if hist:
        return hist
    a, b = node_labels(ref), node_labels(copy)
    if a != b:
        # Equal op histograms: per op, as many of the copy's labels are unmatched as of ref's.
        per_op = Counter(label.split("|", 1)[0] for label in (b - a).elements())
        parts = sorted(per_op.items(), key=lambda kv: (-kv[1], kv[0]))
        return _listed([f"{op} sizes differ ({n} node{'s' if n > 1 else ''})" for op, n in parts])
    return "" if ref.structure_hash() == copy.structure_hash() else WIRING


def reason_kind(reason: str) -> str:
    """The reason without its counts (``+FusedConv x20, -Conv x3`` -> ``+FusedConv, -Conv``),
    so that one cause met in architectures of different sizes is one group."""
    return re.sub(r" \(\d+ nodes?\)", "", re.sub(r" x\d+", "", reason))
