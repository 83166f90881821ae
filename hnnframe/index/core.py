"""The hash index: a store of records plus Hamming search, bound to one checkpoint, with the
weight tier (:mod:`hnnframe.weights`) beside the structural codes of models that carry
weights."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from hnnframe.errors import IndexStoreError
from hnnframe.index.arch import arch_records
from hnnframe.index.model_files import ADD_CHUNK, ModelFileOps
from hnnframe.index.records import (
    AddResult,
    Binding,
    HasherLike,
    HashLike,
    IndexRecord,
    Match,
    NewRecord,
)
from hnnframe.index.rehash import rehash_index
from hnnframe.index.report import problems, summary
from hnnframe.index.search import Query, Searcher, query_code
from hnnframe.index.store import Store
from hnnframe.index.tiers import check_upload
from hnnframe.index.verdict import CheckResult
from hnnframe.log import get_logger
from hnnframe.weights.fingerprint import WeightFingerprint

log = get_logger(__name__)

__all__ = ["ADD_CHUNK", "HashIndex", "default_radius"]


def default_radius(bits: int) -> int:
    """The ``check`` radius when none is given: an eighth of the code (8 of 64 bits)."""
    return max(1, bits // 8)


class HashIndex(ModelFileOps):
    """A database of model hash codes with exact Hamming search.

    Open one with :func:`hnnframe.index.open`. SQLite indexes search an in-memory copy of the
    codes that follows the database (it appends rows added by other processes and reloads after
    a remove or rehash); PostgreSQL indexes compute distances in SQL unless ``search="memory"``.
    Weight codes are searched the same way, and tensor digests looked up exactly.

    Args:
        store: The storage backend.
        search: ``"auto"`` (memory for SQLite, SQL for PostgreSQL), ``"memory"`` or ``"sql"``.
    """

    def __init__(self, store: Store, search: str = "auto") -> None:
        if search not in ("auto", "memory", "sql"):
            raise IndexStoreError(f"search must be auto, memory or sql, not {search!r}")
        if search == "sql" and not store.sql_search:
            raise IndexStoreError(f"{store.backend} indexes search in memory only")
        self._store = store
        self._search = Searcher(store, use_sql=store.sql_search and search != "memory")

    # -- properties ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Where the index lives (password masked)."""
        return self._store.display

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._store.backend

    @property
    def binding(self) -> Binding:
        """The checkpoint fingerprint, Q and checkpoint path the index is bound to."""
        return self._store.binding()

    def __len__(self) -> int:
        return self._store.count()

    def __enter__(self) -> HashIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database connection and drop the in-memory codes."""
        self._store.close()
        self._search.reset()

    def __repr__(self) -> str:
        return f"HashIndex({self.url!r}, backend={self.backend!r})"

    def ensure_compatible(self, bits: int, fingerprint: str | None) -> None:
        """Raise :class:`IndexStoreError` unless codes of ``bits`` from checkpoint
        ``fingerprint`` fit this index (always true for an empty, unbound index)."""
        self._store.check_binding(self.binding, bits, fingerprint)

    # -- writing ---------------------------------------------------------------------------------
    def add(
        self,
        results: HashLike | Iterable[HashLike],
        *,
        fingerprint: str,
        checkpoint: str | os.PathLike | None = None,
        label: str | None = None,
        meta: dict[str, Any] | None = None,
        weights: Sequence[WeightFingerprint | None] | None = None,
    ) -> list[AddResult]:
        """Add hash results in one transaction (all or none).

        A model whose sha256 (or, without a file, its URI) is already stored is not added
        again; its :class:`AddResult` has ``added=False`` and the existing id.

        Args:
            results: :class:`~hnnframe.hashing.HashResult` objects (or any with their fields).
            fingerprint: The fingerprint of the checkpoint that computed the codes.
            checkpoint: Path of that checkpoint, recorded so ``search`` can load it later.
            label: A label for every added record.
            meta: ``key: value`` metadata for every added record.
            weights: One weight fingerprint (:func:`hnnframe.weights.fingerprint.fingerprint`)
                or ``None`` per result: stored beside the structural code (default: the
                weights a described upload, :class:`hnnframe.upload.Upload`, carries).

        Raises:
            IndexStoreError: The index is bound to another checkpoint or Q, or holds weight
                codes of another Q.
        """
        if isinstance(results, HashLike):
            results = [results]
        results = list(results)
        ws = list(weights) if weights is not None else [None] * len(results)
        if len(ws) != len(results):
            raise IndexStoreError(f"{len(ws)} weight fingerprints for {len(results)} results")
        recs = [
            NewRecord.from_upload(r, label, meta)
            if weights is None
            else NewRecord.from_hash(r, label, meta, weights=w)
            for r, w in zip(results, ws, strict=True)
        ]
        ckpt = os.path.abspath(checkpoint) if checkpoint is not None else None
        return self._store.add(recs, fingerprint, ckpt)

    def remove(self, selectors: Sequence[str | int] = (), *, label: str | None = None) -> list[int]:
        """Remove records by id or sha256 (prefix of 8+ digits), and/or every one of a label.

        All in one transaction: if any selector matches nothing, nothing is removed.

        Returns:
            The ids removed.
        """
        return self._store.remove([str(s) for s in selectors], label=label)

    def rehash(
        self,
        hasher: HasherLike,
        *,
        checkpoint: str | os.PathLike | None = None,
        drop_missing: bool = False,
        progress: bool = False,
        batch_size: int = 32,
    ) -> dict[str, Any]:
        """Re-hash every stored model with a new checkpoint and bind the index to it.

        Models are hashed first (from their stored paths), then every code, category and
        fingerprint is replaced in one transaction. Models added by other processes meanwhile
        are hashed inside that transaction. A failure leaves the index as it was.

        Args:
            hasher: The new checkpoint's hasher.
            checkpoint: Its path, recorded in the index.
            drop_missing: Remove records whose file is gone or changed, instead of failing.
            progress: Show a progress bar.
            batch_size: Models per ``hash_many`` call.

        Returns:
            ``{"rehashed": n, "dropped": [...], "bits": Q, "fingerprint": ...}``.

        Raises:
            IndexStoreError: Files are gone or changed (and ``drop_missing`` is False), or the
                index changed during the rehash.
        """
        res = rehash_index(
            self._store,
            hasher,
            checkpoint=checkpoint,
            drop_missing=drop_missing,
            progress=progress,
            batch_size=batch_size,
        )
        self._search.reset()
        return res

    # -- reading ---------------------------------------------------------------------------------
    def get(self, record_id: int) -> IndexRecord:
        """One record by id."""
        rec = self._store.get([record_id]).get(int(record_id))
        if rec is None:
            raise IndexStoreError(f"{self.url}: no record with id {record_id}")
        return rec

    def list(
        self,
        *,
        label: str | None = None,
        category: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[IndexRecord]:
        """Records in order of addition, optionally filtered by label and category."""
        return self._store.list(label=label, category=category, limit=limit, offset=offset)

    def stats(self) -> dict[str, Any]:
        """Record count, binding, counts per category and label, and storage size."""
        s = summary(self._store)
        if self._search.nbytes is not None:
            s["memory_bytes"] = self._search.nbytes
        return s

    def verify(self) -> list[str]:
        """A full consistency check; returns the problems found (empty when healthy)."""
        return problems(self._store)

    def search(
        self,
        query: Query,
        k: int | None = 10,
        radius: int | None = None,
        *,
        fingerprint: str | None = None,
    ) -> list[Match]:
        """The ``k`` stored models nearest to ``query`` in Hamming distance.

        Args:
            query: A hash result, packed code bytes, or a hex string.
            k: How many to return (``None``: every one within ``radius``).
            radius: Only return codes within this distance.
            fingerprint: The checkpoint that computed ``query``; refused if it is not the
                index's.

        Returns:
            Matches sorted by distance, then by id (order of addition).
        """
        code, _ = query_code(self._store, query, fingerprint)
        return self._search.codes(code, k, radius)

    def same_architecture(self, query: Query) -> list[IndexRecord]:
        """The stored models of ``query``'s architecture: the same digest of the canonical
        graph or of the config's architecture fields (:mod:`hnnframe.index.arch`), in order
        of addition. Empty for a query without digests (a code, a ``hex:`` string)."""
        return arch_records(self._store, query)

    def search_many(
        self,
        queries: Sequence[Query],
        k: int | None = 10,
        radius: int | None = None,
        *,
        fingerprint: str | None = None,
    ) -> list[list[Match]]:
        """:meth:`search` for each query."""
        return [self.search(q, k, radius, fingerprint=fingerprint) for q in queries]

    def search_weights(
        self, code: bytes | WeightFingerprint, k: int | None = 10, radius: int | None = None
    ) -> list[Match]:
        """The ``k`` stored models whose weight codes are nearest to ``code`` (Hamming).

        Args:
            code: A packed weight code, or a weight fingerprint.
            k: How many (``None``: every one within ``radius``).
            radius: Only weight codes within this distance.

        Returns:
            Matches (``distance`` between the weight codes) sorted by distance, then id.
        """
        code = bytes(code.code if isinstance(code, WeightFingerprint) else code)
        return self._search.weight_matches(code, k, radius)

    def check(
        self,
        query: Query,
        radius: int | None = None,
        *,
        fingerprint: str | None = None,
        weights: WeightFingerprint | None = None,
        weight_threshold: int | None = None,
    ) -> CheckResult:
        """Whether an uploaded model is a copy of a stored one, and on which tier.

        Candidates are every stored model that is the same file (sha256), holds the same
        tensors (digests), has a weight code within the threshold, the upload's architecture
        (digest of the canonical graph or config), or a structural code within ``radius``;
        each gets the strongest tier it matches (``exact file``, ``exact tensors``, ``weight
        match``, ``same architecture``, ``structure only``; :mod:`hnnframe.index.tiers`).

        Args:
            query: The upload's hash result (or code).
            radius: Largest structural distance that counts; default :func:`default_radius`.
            fingerprint: The checkpoint that computed ``query``.
            weights: The upload's weight fingerprint, when it carries weights (computed with
                the index's weight Q, ``binding.weight_bits``).
            weight_threshold: Hamming threshold of a weight match (default: the shipped one,
                ``hnnframe/weights/threshold.json``, with its false-positive rate).

        Returns:
            A :class:`CheckResult`: ``matches`` (structural neighbours, as before), and
            ``candidates`` with their tiers, strongest first; ``fails(policy)`` says whether
            the upload is a suspected copy.
        """
        code, b = query_code(self._store, query, fingerprint)
        r = default_radius(b.bits or len(code) * 8) if radius is None else int(radius)
        if r < 0:
            raise IndexStoreError(f"radius must be >= 0, not {r}")
        return check_upload(
            self._store,
            self._search,
            b,
            query,
            code,
            r,
            weights=weights,
            weight_threshold=weight_threshold,
        )
