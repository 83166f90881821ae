"""The weight tiers as evidence signals (:mod:`hnnframe.evidence`), strongest first:

* ``exact_file``: the same bytes (sha256; and, when both sides carry weights, the same tensor
  set, which differs under one sha256 only when an ONNX file's external data files were
  swapped);
* ``exact_tensors``: every informative tensor of the smaller model is in the other one
  (at least :data:`EXACT_SHARE` of its elements, by digest, whatever the names, order, format
  or a transposed storage);
* ``weight_match``: weight codes within the shipped Hamming threshold.

Their columns are the index's own (``hnn_models.sha256``, ``hnn_weights``, ``hnn_tensors``),
so they declare none. :func:`hnnframe.weights.fingerprint.match` and the index's check both
fold over them.
"""

from __future__ import annotations

from typing import Any

from hnnframe.codes import hamming
from hnnframe.evidence import EVIDENCE, Context, Evidence, Finder, Signal, Subject, Tier
from hnnframe.weights.digests import shared_fraction

#: Names of the signals :func:`hnnframe.weights.fingerprint.match` reads the numbers of; that
#: module imports this one, so the weight-level signals are registered wherever it is used.
EXACT_TENSORS = "exact_tensors"
WEIGHT_MATCH = "weight_match"

#: Share of the smaller model's tensor elements that must be the same tensors for "exact".
EXACT_SHARE = 0.99


@EVIDENCE.register("exact_file")
class ExactFile(Signal):
    """The same file: ``(sha256, tensor set or None)``."""

    tier = Tier.EXACT_FILE
    reported = False

    def extract(self, subject: Subject) -> Any:
        w = subject.weights
        if w is not None:
            return (w.sha256, w.tensor_set)
        return (subject.sha256, None) if subject.sha256 else None

    def compare(self, a: Any, b: Any, ctx: Context) -> Evidence | None:
        (sha_a, set_a), (sha_b, set_b) = a, b
        if set_a is not None and set_b is not None:
            same = sha_a == sha_b and set_a == set_b
        else:  # a side without weights: the bytes alone
            same = bool(sha_a) and sha_a == sha_b
        return self.hit() if same else self.miss()

    def candidates(self, finder: Finder, value: Any, ctx: Context) -> set[int]:
        if not value[0]:
            return set()
        return finder.exact("hnn_models", "sha256", [value[0]], key="id")


@EVIDENCE.register(EXACT_TENSORS)
class ExactTensors(Signal):
    """The same tensors: the weight fingerprint's digests."""

    tier = Tier.EXACT_TENSORS
    field = "weights"
    reported = False

    def compare(self, a: Any, b: Any, ctx: Context) -> Evidence | None:
        shared = shared_fraction(a.digests, b.digests)[0]
        ev = self.hit if shared >= EXACT_SHARE else self.miss
        return ev(shared=round(shared, 6))

    def candidates(self, finder: Finder, value: Any, ctx: Context) -> set[int]:
        return finder.exact("hnn_tensors", "digest", sorted({d.digest for d in value.digests}))


@EVIDENCE.register(WEIGHT_MATCH)
class WeightMatch(Signal):
    """Weight codes within the threshold (``ctx.threshold``)."""

    tier = Tier.WEIGHT_MATCH
    field = "weights"
    reported = False

    def compare(self, a: Any, b: Any, ctx: Context) -> Evidence | None:
        if ctx.threshold is None:
            return None
        dist = hamming(a.code, b.code)
        # An all-zero code has no tensor of two or more dimensions behind it (an int8 state
        # dict whose quantized weights are skipped leaves only biases): two of them are equal
        # whatever the weights, so they say nothing. The digests still apply.
        same = dist <= ctx.threshold and any(a.code) and any(b.code)
        return self.hit(distance=dist) if same else self.miss(distance=dist)

    def candidates(self, finder: Finder, value: Any, ctx: Context) -> set[int]:
        if ctx.threshold is None:
            return set()
        return finder.near_weights(value.code, ctx.threshold)
