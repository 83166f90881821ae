"""The tiers of ``check``: which indexed models an upload matches, and on what.

Strongest first (:class:`~hnnframe.evidence.Tier`):

* ``exact file``: the same bytes (sha256 of the file; looked up in ``hnn_models.sha256``);
* ``exact tensors``: at least 99% of the smaller model's weights are the same tensors
  (digests, whatever the names, order, format or a transposed storage; looked up exactly in
  ``hnn_tensors.digest``);
* ``weight match``: weight codes within the shipped Hamming threshold (``threshold.json``,
  measured on the weight test bed at a stated false-positive rate), searched like structural
  codes;
* ``same architecture``: the digest of the canonical graph, or of a config's architecture
  fields, is the upload's (:mod:`hnnframe.index.arch`; looked up exactly, whatever the
  structural distance). An independently trained model of the architecture lands here;
* ``structure only``: a structural neighbour within the radius (the paper's hash).

Each tier is an evidence signal (:mod:`hnnframe.evidence`; the weight tiers in
:mod:`hnnframe.weights.signals`, the structural ones in :mod:`hnnframe.index.signals`), and so
is any signal a plugin registers. Candidates come from every signal's look-up; each gets the
strongest tier it matches, from one fold over the signals, strongest first (the weight-level
part of it is :func:`hnnframe.weights.fingerprint.match`, the one ``hnn weights compare``
makes), so the index and the pairwise command never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import hnnframe.index.signals  # noqa: F401  (registers the built-in signals)
from hnnframe.codes import hamming
from hnnframe.errors import IndexStoreError
from hnnframe.evidence import (
    CHECK_TIERS,
    EVIDENCE,
    Context,
    Evidence,
    Subject,
    Tier,
    evaluate,
    signals,
    strongest,
)
from hnnframe.index.records import Binding, IndexRecord, Match
from hnnframe.index.search import Searcher
from hnnframe.index.sql import in_chunks
from hnnframe.index.store import Store
from hnnframe.index.verdict import Candidate, CheckResult, WeightComparison
from hnnframe.weights.block_signal import BLOCK_MATCH
from hnnframe.weights.digests import TensorDigest
from hnnframe.weights.fingerprint import WeightFingerprint, load_threshold


def threshold_info(bits: int, given: int | None = None) -> dict[str, Any]:
    """The weight-code threshold for ``bits``-bit codes: the shipped one with its measured
    false-positive rate, or ``given`` (whose rate is unknown)."""
    shipped = load_threshold(bits)
    if given is not None:
        return {
            "threshold": int(given),
            "bits": bits,
            "fpr": None,
            "given": True,
            "shipped": shipped["threshold"],
            "block_threshold": shipped.get("block_threshold"),
        }
    return {
        "threshold": int(shipped["threshold"]),
        "block_threshold": shipped.get("block_threshold"),
        "bits": bits,
        "fpr": shipped.get("fpr"),
        "fpr_worst_arch": shipped.get("fpr_worst_arch"),
        "fpr_target": shipped.get("fpr_target"),
        "negatives": shipped.get("negatives"),
        "command": shipped.get("command"),
        "given": False,
    }


class IndexFinder:
    """The look-ups the signals find candidates with (:class:`hnnframe.evidence.Finder`), on
    one index; keeps the structural neighbours it found (``matches``) for the report."""

    def __init__(self, store: Store, search: Searcher) -> None:
        self.store, self.search = store, search
        self.matches: list[Match] = []

    def exact(
        self, table: str, column: str, values: Iterable[Any], key: str = "model_id"
    ) -> set[int]:
        keys = sorted(set(values))
        out: set[int] = set()
        with self.store.transaction(write=False) as cur:
            if table not in self.store.tables(cur):
                return out  # a signal's table that no add has created yet: no values
            for part, marks in in_chunks(keys):
                sql = f"SELECT DISTINCT {key} FROM {table} WHERE {column} IN ({marks})"
                cur.execute(self.store.q(sql), part)
                out.update(int(r[0]) for r in cur.fetchall())
        return out

    def near_codes(self, code: bytes, radius: int) -> set[int]:
        self.matches = self.search.codes(code, None, radius)
        return {m.record.id for m in self.matches}

    def near_weights(self, code: bytes, threshold: int) -> set[int]:
        return {i for _, i in self.search.weight_hits(code, None, threshold)}


def stored_fingerprints(
    store: Store, records: Sequence[IndexRecord]
) -> dict[int, WeightFingerprint]:
    """The weight fingerprints of records that have weights, rebuilt from the index."""
    recs = {r.id: r for r in records if r.weights is not None}
    digests: dict[int, list[TensorDigest]] = {i: [] for i in recs}
    with store.transaction(write=False) as cur:
        for part, marks in in_chunks(sorted(recs)):
            cur.execute(
                store.q(
                    f"SELECT model_id, digest, numel, copies FROM hnn_tensors"
                    f" WHERE model_id IN ({marks}) ORDER BY model_id, digest"
                ),
                part,
            )
            for mid, d, n, c in cur.fetchall():
                digests[int(mid)] += [TensorDigest(d, int(n))] * int(c)
    out = {}
    for i, r in recs.items():
        w = r.weights
        assert w is not None
        out[i] = WeightFingerprint(
            path=r.path,
            format=w.format,
            sha256=r.sha256 or "",
            bits=w.bits,
            code=w.code,
            digests=digests[i],
            tensors=w.tensors,
            params=w.params,
            largest=w.largest,
        )
    return out


def weight_comparison(
    found: Sequence[Evidence], upload: Subject, threshold: dict[str, Any] | None, reason: str
) -> WeightComparison:
    """How a candidate's weights compare with the upload's, from the weight-level evidence
    (``reason``: why there is none, when a side has no weights)."""
    by = {e.signal: e for e in found}
    if upload.weights is None or threshold is None or "weight_match" not in by:
        return WeightComparison(False, reason=reason)
    verdict = strongest(e for e in found if e.tier.weight_level)
    return WeightComparison(
        True,
        verdict,
        by["weight_match"].distance,
        threshold["threshold"],
        upload.weights.bits,
        threshold.get("fpr"),
        by["exact_tensors"].detail["shared"],
    )


def gather(
    store: Store,
    search: Searcher,
    upload: Subject,
    radius: int,
    *,
    threshold: dict[str, Any] | None,
    no_weights_reason: str = "the upload carries no weights",
) -> CheckResult:
    """Every candidate of an upload on every tier: one fold over the evidence signals,
    strongest first (see the module docstring).

    Args:
        upload: The upload's structural code, sha256, weight fingerprint (``None`` without
            weights, or when the index holds none) and architecture digests.
        radius: The structural radius.
        threshold: :func:`threshold_info` of the weight codes (``None`` without weights).
        no_weights_reason: Why the upload's weights are not compared, when it has none.
    """
    sigs = signals(CHECK_TIERS)
    block = (threshold or {}).get("block_threshold")
    ctx = Context(
        threshold=threshold["threshold"] if threshold else None,
        radius=radius,
        limits={} if block is None else {BLOCK_MATCH: int(block)},
    )
    finder = IndexFinder(store, search)
    ids: set[int] = set()
    for s in sigs:
        value = s.value(upload)
        if value is not None:
            ids |= s.candidates(finder, value, ctx)
    recs = {m.record.id: m.record for m in finder.matches}
    recs.update(store.get(sorted(ids - set(recs))))
    fps = stored_fingerprints(store, list(recs.values())) if upload.weights is not None else {}
    values = store.signal_values(sigs, sorted(recs))
    unstored = {s.name: None for s in sigs if s.columns}  # a record without a stored value
    reason = no_weights_reason if upload.weights is None else "the indexed model has no weights"
    out: list[Candidate] = []
    for rid, rec in recs.items():
        stored = Subject.of(rec, fps.get(rid), **{**unstored, **values.get(rid, {})})
        found = evaluate(sigs, upload, stored, ctx)
        tier = strongest(found)
        if tier is Tier.NONE:
            continue  # a few shared tensors, but no tier: not a candidate
        by = {e.signal: e for e in found}
        d = hamming(upload.code, rec.code)
        cmp = weight_comparison(found, upload, threshold, reason)
        shown = [e for e in found if EVIDENCE.get(e.signal).reported]
        out.append(Candidate(tier, rec, d, d <= radius, cmp, _hit(by, "same_architecture"), shown))
    out.sort(key=lambda c: (c.tier.rank, c.distance, c.record.id))
    return CheckResult(
        radius=radius,
        matches=finder.matches,
        candidates=out,
        weights=_upload_summary(upload.weights),
        threshold=threshold,
    )


def _hit(by: dict[str, Evidence], name: str) -> bool:
    return name in by and by[name].hit


def _upload_summary(w: WeightFingerprint | None) -> dict[str, Any] | None:
    if w is None:
        return None
    return {
        "format": w.format,
        "bits": w.bits,
        "code": w.code.hex(),
        "tensor_set": w.tensor_set,
        "tensors": w.tensors,
        "params": w.params,
        "largest": w.largest,
        "seconds": w.seconds,
        "missing": w.missing,
    }


def check_upload(
    store: Store,
    search: Searcher,
    binding: Binding,
    query: Any,
    code: bytes,
    radius: int,
    *,
    weights: WeightFingerprint | None,
    weight_threshold: int | None,
) -> CheckResult:
    """:meth:`hnnframe.index.HashIndex.check` for a code checked against ``binding``
    (``query``: the upload's hash result, for its sha256 and architecture digests)."""
    sha256 = getattr(query, "sha256", None) or (weights.sha256 if weights is not None else None)
    threshold = None
    reason = "the upload carries no weights"
    if weights is not None and binding.weight_bits is None:
        weights, reason = None, "the index holds no weights"
    if weights is not None:
        if weights.bits != binding.weight_bits:
            raise IndexStoreError(
                f"{store.display} holds {binding.weight_bits}-bit weight codes; the upload's "
                f"has {weights.bits} bits"
            )
        threshold = threshold_info(weights.bits, weight_threshold)
    upload = Subject.of(query, weights)
    upload.sha256, upload.code = sha256, code
    return gather(store, search, upload, radius, threshold=threshold, no_weights_reason=reason)
