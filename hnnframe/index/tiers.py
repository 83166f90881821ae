"""The tiers of ``check``: which indexed models an upload matches, and on what.

Strongest first (:data:`~hnnframe.index.records.TIERS`):

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

Candidates come from all five look-ups; each gets the strongest tier it matches, from one
comparison of the two fingerprints (:func:`hnnframe.weights.fingerprint.match`, the same one
``hnn weights compare`` makes), so the index and the pairwise command never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from hnnframe.codes import hamming
from hnnframe.errors import IndexStoreError
from hnnframe.index.arch import arch_ids
from hnnframe.index.records import (
    TIERS,
    Binding,
    Candidate,
    CheckResult,
    IndexRecord,
    Match,
    WeightComparison,
)
from hnnframe.index.search import Searcher
from hnnframe.index.sql import in_chunks
from hnnframe.index.store import Store
from hnnframe.weights.digests import TensorDigest
from hnnframe.weights.fingerprint import WeightFingerprint, load_threshold, match


def threshold_info(bits: int, given: int | None = None) -> dict[str, Any]:
    """The weight-code threshold for ``bits``-bit codes: the shipped one with its measured
    false-positive rate, or ``given`` (whose rate is unknown)."""
    shipped = load_threshold(bits)
    if given is not None:
        return {"threshold": int(given), "bits": bits, "fpr": None, "given": True,
                "shipped": shipped["threshold"]}  # fmt: skip
    return {
        "threshold": int(shipped["threshold"]),
        "bits": bits,
        "fpr": shipped.get("fpr"),
        "fpr_worst_arch": shipped.get("fpr_worst_arch"),
        "fpr_target": shipped.get("fpr_target"),
        "negatives": shipped.get("negatives"),
        "command": shipped.get("command"),
        "given": False,
    }


def ids_with_sha(store: Store, sha256: str | None) -> set[int]:
    """Records of the file with this sha256 (indexed look-up)."""
    if not sha256:
        return set()
    with store.transaction(write=False) as cur:
        cur.execute(store.q("SELECT id FROM hnn_models WHERE sha256 = ?"), (sha256,))
        return {int(r[0]) for r in cur.fetchall()}


def tensor_hits(store: Store, digests: Iterable[TensorDigest]) -> set[int]:
    """Records that hold at least one of these tensors (exact, indexed look-up)."""
    keys = sorted({d.digest for d in digests})
    out: set[int] = set()
    with store.transaction(write=False) as cur:
        for part, marks in in_chunks(keys):
            cur.execute(
                store.q(f"SELECT DISTINCT model_id FROM hnn_tensors WHERE digest IN ({marks})"),
                part,
            )
            out.update(int(r[0]) for r in cur.fetchall())
    return out


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
            path=r.path, format=w.format, sha256=r.sha256 or "", bits=w.bits, code=w.code,
            digests=digests[i], tensors=w.tensors, params=w.params, largest=w.largest,
        )  # fmt: skip
    return out


def compare_weights(
    upload: WeightFingerprint | None,
    stored: WeightFingerprint | None,
    threshold: dict[str, Any] | None,
    reason: str,
) -> WeightComparison:
    """The weight comparison of one candidate (``reason``: why there is none, if so)."""
    if upload is None or stored is None or threshold is None:
        return WeightComparison(False, reason=reason)
    v = match(upload, stored, threshold=threshold["threshold"])
    return WeightComparison(True, v.verdict, v.distance, v.threshold, v.bits,
                            threshold.get("fpr"), v.shared)  # fmt: skip


def gather(
    store: Store,
    code: bytes,
    radius: int,
    matches: list[Match],
    *,
    sha256: str | None,
    weights: WeightFingerprint | None,
    weight_hits: Sequence[tuple[int, int]],
    threshold: dict[str, Any] | None,
    no_weights_reason: str = "the upload carries no weights",
    same_arch: Iterable[int] = (),
) -> CheckResult:
    """Every candidate of an upload on every tier (see the module docstring).

    Args:
        code: The upload's structural code; ``matches`` its neighbours within ``radius``.
        sha256: The upload file's sha256, for the exact-file tier.
        weights: The upload's weight fingerprint, or ``None``.
        weight_hits: ``(distance, id)`` of stored weight codes within the threshold.
        threshold: :func:`threshold_info` of the weight codes (``None`` without weights).
        no_weights_reason: Why the upload's weights are not compared, when ``weights`` is None.
        same_arch: Ids of the records of the upload's architecture (equal digests).
    """
    recs = {m.record.id: m.record for m in matches}
    arch = set(same_arch)
    ids = ids_with_sha(store, sha256) | {i for _, i in weight_hits} | arch
    if weights is not None:
        ids |= tensor_hits(store, weights.digests)
    recs.update(store.get(sorted(ids - set(recs))))
    fps = stored_fingerprints(store, list(recs.values())) if weights is not None else {}
    out: list[Candidate] = []
    for rid, rec in recs.items():
        d = hamming(code, rec.code)
        reason = no_weights_reason if weights is None else "the indexed model has no weights"
        cmp = compare_weights(weights, fps.get(rid), threshold, reason)
        if cmp.compared and cmp.verdict != "none":
            tier = str(cmp.verdict)
        elif not cmp.compared and sha256 and rec.sha256 == sha256:
            tier = "exact file"
        elif rid in arch:
            tier = "same architecture"
        elif d <= radius:
            tier = "structure only"
        else:
            continue  # a few shared tensors, but no tier: not a candidate
        out.append(Candidate(tier, rec, d, d <= radius, cmp, rid in arch))
    out.sort(key=lambda c: (TIERS.index(c.tier), c.distance, c.record.id))
    return CheckResult(
        radius=radius,
        matches=matches,
        candidates=out,
        weights=_upload_summary(weights),
        threshold=threshold,
    )


def _upload_summary(w: WeightFingerprint | None) -> dict[str, Any] | None:
    if w is None:
        return None
    return {"format": w.format, "bits": w.bits, "code": w.code.hex(), "tensor_set": w.tensor_set,
            "tensors": w.tensors, "params": w.params, "largest": w.largest,
            "seconds": w.seconds, "missing": w.missing}  # fmt: skip


def check_upload(
    store: Store,
    search: Searcher,
    binding: Binding,
    code: bytes,
    radius: int,
    *,
    sha256: str | None,
    weights: WeightFingerprint | None,
    weight_threshold: int | None,
    digests: tuple[str | None, str | None] = (None, None),
) -> CheckResult:
    """:meth:`hnnframe.index.HashIndex.check` for a code checked against ``binding``
    (``digests``: the upload's :func:`~hnnframe.index.arch.digests_of`)."""
    matches = search.codes(code, None, radius)
    sha256 = sha256 or (weights.sha256 if weights is not None else None)
    threshold, hits = None, []
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
        hits = search.weight_hits(weights.code, None, threshold["threshold"])
    return gather(store, code, radius, matches, sha256=sha256, weights=weights,
                  weight_hits=hits, threshold=threshold, no_weights_reason=reason,
                  same_arch=arch_ids(store, digests))  # fmt: skip
