"""Moving an index to a new checkpoint (``hnn index rehash``).

Every stored model is hashed again from its path (or, for a weights file, from the companion
structure it was added with), outside any transaction (with a progress bar); then one write
transaction replaces every code, category, fingerprint and architecture digest (the
exact-architecture tier's, filled in for records added before schema 3) and re-binds the
index. Weight records stay as they are: they do not depend on the checkpoint. Models added by
other processes during the hashing are hashed inside that transaction, so none keeps a code
of the old checkpoint. Gone or changed files stop the rehash before it
writes anything, unless ``drop_missing`` removes their records. A failure leaves the index as
it was.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from hnnframe.errors import IndexStoreError
from hnnframe.files import model_sha256
from hnnframe.index.arch import set_digests
from hnnframe.index.records import HasherLike, IndexRecord, is_uri
from hnnframe.index.sql import Updates, utc_now
from hnnframe.index.store import Store


def rehash_index(
    store: Store,
    hasher: HasherLike,
    *,
    checkpoint: str | os.PathLike | None = None,
    drop_missing: bool = False,
    progress: bool = False,
    batch_size: int = 32,
) -> dict[str, Any]:
    """Re-hash every model of ``store`` with ``hasher`` and bind the index to it.

    See :meth:`hnnframe.index.HashIndex.rehash`, which calls this.
    """
    from tqdm import tqdm

    epoch = store.binding().epoch
    gone: list[IndexRecord] = []
    todo: list[IndexRecord] = []
    for r in store.list():
        (todo if all(is_uri(p) or os.path.exists(p) for p in _sources(r)) else gone).append(r)
    changed: list[IndexRecord] = []

    def hash_records(recs: list[IndexRecord], bar: Any = None) -> Updates:
        return _hash_records(hasher, recs, batch_size, changed, bar)

    if gone and not drop_missing:
        raise IndexStoreError(
            f"{len(gone)} model file(s) are gone, e.g. {gone[0].path}; restore them or pass "
            "--drop-missing (drop_missing=True) to remove their records"
        )
    with tqdm(total=len(todo), desc="rehash", unit="model", disable=not progress) as bar:
        updates = hash_records(todo, bar)
    if changed and not drop_missing:
        raise IndexStoreError(
            f"{len(changed)} model file(s) changed since they were added, e.g. "
            f"{changed[0].path}; remove and re-add them, or pass --drop-missing"
        )
    drop = [r.id for r in gone + changed]
    ckpt = os.path.abspath(checkpoint) if checkpoint is not None else None

    def hash_new(recs: list[IndexRecord]) -> Updates:
        new = hash_records(recs)
        missing = [r for r in recs if r.id not in new]
        if missing:
            raise IndexStoreError(f"{missing[0].path} changed while the index was re-hashed")
        return new

    n = replace_codes(
        store, updates, hasher.fingerprint, hasher.bits, ckpt, epoch, hash_new=hash_new, drop=drop
    )
    return {
        "rehashed": n,
        "dropped": [r.path for r in gone + changed],
        "bits": hasher.bits,
        "fingerprint": hasher.fingerprint,
        "checkpoint": ckpt,
    }


def _hash_records(
    hasher: HasherLike,
    recs: list[IndexRecord],
    batch_size: int,
    changed: list[IndexRecord],
    bar: Any = None,
) -> Updates:
    """The new code, category and digests of each record, hashed ``batch_size`` at a time
    (a weights file through its companion structure); a record whose file changed since it
    was added goes to ``changed`` instead."""
    out: Updates = {}
    for start in range(0, len(recs), batch_size):
        chunk = recs[start : start + batch_size]
        results = hasher.hash_many([r.structure or r.path for r in chunk], progress=False)
        for r, res in zip(chunk, results, strict=True):
            # a weights file's own bytes, not its companion's, are what its sha256 names
            sha = res.sha256 if r.structure is None else _sha(r.path)
            if r.sha256 and sha and sha != r.sha256:
                changed.append(r)
            else:
                out[r.id] = (
                    bytes(res.code),
                    res.category,
                    getattr(res, "graph_digest", None),
                    getattr(res, "config_digest", None),
                )
        if bar is not None:
            bar.update(len(chunk))
    return out


def _sources(r: IndexRecord) -> list[str]:
    """The files a record's code is computed from (its own, and a companion structure)."""
    return [r.path] + ([r.structure] if r.structure else [])


def _sha(path: str) -> str | None:
    return model_sha256(path) if os.path.isfile(path) else None


def replace_codes(
    store: Store,
    updates: Updates,
    fingerprint: str,
    bits: int,
    checkpoint: str | None,
    expected_epoch: int,
    hash_new: Callable[[list[IndexRecord]], Updates],
    drop: Sequence[int] = (),
) -> int:
    """Replace every record's code, category and digests in one transaction and re-bind the
    index.

    Args:
        store: The index's store.
        updates: New ``(code, category, graph_digest, config_digest)`` per id, computed
            before the transaction.
        fingerprint, bits, checkpoint: The new binding.
        expected_epoch: The epoch when ``updates`` were computed; if a remove or rehash
            happened since, the rehash is refused (run it again).
        hash_new: Called inside the transaction with records added since ``updates`` were
            computed (their codes are from the old checkpoint); returns their updates.
        drop: Ids to remove (models whose file is gone).

    Returns:
        The number of records re-hashed.
    """
    with store.transaction(write=True) as cur:
        meta = store.read_meta(cur)
        if store.binding_of(meta).epoch != expected_epoch:
            raise IndexStoreError(
                f"{store.display} changed (records removed or re-hashed) during the rehash; "
                "run it again"
            )
        cur.execute("SELECT id FROM hnn_models ORDER BY id")
        present = [int(r[0]) for r in cur.fetchall()]
        dropset = set(drop)
        new_ids = [i for i in present if i not in updates and i not in dropset]
        if new_ids:
            updates = {**updates, **hash_new(store.rows_in(cur, new_ids))}
        store.delete_records(cur, list(drop))
        count = 0
        for rid in present:
            if rid in dropset:
                continue
            code, category, graph_digest, config_digest = updates[rid]
            if len(code) * 8 != bits:
                raise IndexStoreError(
                    f"record {rid}: new code has {len(code) * 8} bits, not {bits}"
                )
            store.update_code(cur, rid, code, bits, fingerprint, category)
            set_digests(store, cur, rid, graph_digest, config_digest)
            count += 1
        store.set_meta(cur, "bits", bits)
        store.set_meta(cur, "fingerprint", fingerprint)
        store.set_meta(cur, "checkpoint", checkpoint)
        store.set_meta(cur, "bound_at", utc_now())
        store.bump_epoch(cur, meta)
    return count
