"""Reports on a whole index (``hnn index stats [--verify]``): what it holds, and whether it is
sound. Each report reads one snapshot of the store."""

from __future__ import annotations

from typing import Any

from hnnframe.index.signal_store import orphan_rows
from hnnframe.index.sql import iso
from hnnframe.index.store import Store


def summary(store: Store) -> dict[str, Any]:
    """Counts per category and label, the binding and the storage size."""
    with store.transaction(write=False) as cur:
        meta = store.read_meta(cur)
        cur.execute("SELECT COUNT(*), MIN(added_at), MAX(added_at) FROM hnn_models")
        n, first, last = cur.fetchone()
        cur.execute(
            "SELECT category, COUNT(*) FROM hnn_models GROUP BY category ORDER BY 2 DESC, 1"
        )
        cats = {c: int(k) for c, k in cur.fetchall()}
        cur.execute("SELECT label, COUNT(*) FROM hnn_models GROUP BY label ORDER BY 2 DESC, 1")
        labels = {("" if lab is None else lab): int(k) for lab, k in cur.fetchall()}
        cur.execute("SELECT COUNT(*), COALESCE(SUM(params), 0) FROM hnn_weights")
        nw, params = cur.fetchone()
        cur.execute("SELECT COUNT(*) FROM hnn_tensors")
        digests = int(cur.fetchone()[0])
        cur.execute("SELECT COUNT(*) FROM hnn_models WHERE graph_digest IS NOT NULL")
        with_arch = int(cur.fetchone()[0])
        size = store.storage_bytes(cur)
    b = store.binding_of(meta)
    return {
        "url": store.display,
        "backend": store.backend,
        "schema_version": int(meta.get("schema_version", 0)),
        "created_at": meta.get("created_at"),
        "records": int(n),
        "bits": b.bits,
        "fingerprint": b.fingerprint,
        "checkpoint": b.checkpoint,
        "first_added": iso(first) if first is not None else None,
        "last_added": iso(last) if last is not None else None,
        "categories": cats,
        "labels": labels,
        "weights": {
            "records": int(nw),
            "bits": b.weight_bits,
            "digests": digests,
            "params": int(params),
        },
        # records with the same-architecture tier's digest (older ones need a rehash)
        "architecture_digests": with_arch,
        "bytes": size,
    }


def problems(store: Store) -> list[str]:
    """Problems found by a full check (storage integrity, code lengths, fingerprints)."""
    found: list[str] = []
    with store.transaction(write=False) as cur:
        found += store.integrity_problems(cur)
        b = store.binding_of(store.read_meta(cur))
        cur.execute("SELECT COUNT(*) FROM hnn_models")
        n = int(cur.fetchone()[0])
        if n and not b.bound:
            found.append(f"{n} records but the index is not bound to a checkpoint")
        if b.bound:
            cur.execute(
                store.q("SELECT COUNT(*) FROM hnn_models WHERE bits <> ? OR fingerprint <> ?"),
                (b.bits, b.fingerprint),
            )
            k = int(cur.fetchone()[0])
            if k:
                found.append(f"{k} records of another checkpoint or Q")
            cur.execute("SELECT COUNT(*) FROM hnn_models WHERE length(code) * 8 <> bits")
            k = int(cur.fetchone()[0])
            if k:
                found.append(f"{k} codes whose length differs from their bits")
        found += _weight_problems(store, cur, b.weight_bits)
        found += store.orphan_signal_values(cur)
    return found


def _weight_problems(store: Store, cur: Any, weight_bits: int | None) -> list[str]:
    """Weight rows without their record, of another Q, or whose digests do not add up."""
    found = orphan_rows(cur, ["hnn_weights", "hnn_tensors"])
    cur.execute("SELECT COUNT(*), MIN(bits), MAX(bits) FROM hnn_weights")
    n, lo, hi = cur.fetchone()
    if n and (weight_bits is None or lo != weight_bits or hi != weight_bits):
        found.append(f"weight codes of {lo}-{hi} bits in an index bound to {weight_bits}")
    cur.execute("SELECT COUNT(*) FROM hnn_weights WHERE length(code) * 8 <> bits")
    k = int(cur.fetchone()[0])
    if k:
        found.append(f"{k} weight codes whose length differs from their bits")
    cur.execute(
        "SELECT COUNT(*) FROM hnn_weights w WHERE w.tensors <> COALESCE((SELECT SUM(t.copies)"
        " FROM hnn_tensors t WHERE t.model_id = w.model_id), 0)"
    )
    k = int(cur.fetchone()[0])
    if k:
        found.append(f"{k} weight records whose tensor digests do not add up to their count")
    return found


def verdict_dict(label: str, verdict: Any, nearest: list[Any], policy: str) -> dict[str, Any]:
    """One upload's verdict as ``hnn index check --json`` prints it and ``hnn serve``'s
    ``/v1/check`` answers it: the upload's name, the :class:`CheckResult` under ``policy``
    (``suspect`` included) and the nearest indexed model (or ``None``)."""
    return {
        "upload": label,
        **verdict.to_dict(policy),
        "nearest": nearest[0].to_dict() if nearest else None,
    }
