"""The structural tiers of ``check`` as evidence signals (:mod:`hnnframe.evidence`):

* ``same_architecture``: the digest of the canonical graph, or of a config's architecture
  fields, is the upload's (:mod:`hnnframe.index.arch`; looked up exactly in ``hnn_models``,
  whatever the structural distance);
* ``structure_only``: a structural neighbour within the radius (the paper's hash).

Importing this module also registers the weight tiers (:mod:`hnnframe.weights.signals`), so
that the index folds over every built-in signal.
"""

from __future__ import annotations

from typing import Any

import hnnframe.weights.signals  # noqa: F401  (registers the weight-level signals)
from hnnframe.codes import hamming
from hnnframe.evidence import EVIDENCE, Context, Evidence, Finder, Signal, Subject, Tier
from hnnframe.index.arch import DIGESTS


@EVIDENCE.register("same_architecture")
class SameArchitecture(Signal):
    """``(graph_digest, config_digest)``; a record added before schema 3 has neither."""

    tier = Tier.SAME_ARCHITECTURE
    reported = False

    def extract(self, subject: Subject) -> Any:
        value = (subject.graph_digest, subject.config_digest)
        return value if any(value) else None

    def compare(self, a: Any, b: Any, ctx: Context) -> Evidence | None:
        same = any(x and x == y for x, y in zip(a, b, strict=True))
        return self.hit() if same else self.miss()

    def candidates(self, finder: Finder, value: Any, ctx: Context) -> set[int]:
        out: set[int] = set()
        for col, digest in zip(DIGESTS, value, strict=True):
            if digest:
                out |= finder.exact("hnn_models", col, [digest], key="id")
        return out


@EVIDENCE.register("structure_only")
class StructureOnly(Signal):
    """The structural code, within ``ctx.radius`` (Hamming distance)."""

    tier = Tier.STRUCTURE_ONLY
    field = "code"
    reported = False

    def compare(self, a: Any, b: Any, ctx: Context) -> Evidence | None:
        if ctx.radius is None:
            return None
        d = hamming(a, b)
        return self.hit(distance=d) if d <= ctx.radius else self.miss(distance=d)

    def candidates(self, finder: Finder, value: Any, ctx: Context) -> set[int]:
        if ctx.radius is None:
            return set()
        return finder.near_codes(value, ctx.radius)
