"""The hash index: a store of records plus Hamming search, bound to one checkpoint."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from hnnframe.errors import IndexStoreError
from hnnframe.index.records import (
    AddResult,
    Binding,
    CheckResult,
    HashLike,
    IndexRecord,
    Match,
    NewRecord,
    _is_uri,
)
from hnnframe.index.scan import HammingScanner
from hnnframe.index.store import Store, Updates
from hnnframe.log import get_logger

log = get_logger(__name__)

#: A query: a hash result, packed code bytes, or a code in hex.
Query = HashLike | bytes | str


class HasherLike(Protocol):
    """What :meth:`HashIndex.rehash` and :meth:`HashIndex.add_models` need of a hasher."""

    bits: int
    fingerprint: str

    def hash_many(self, sources: Sequence[Any], progress: bool = False) -> list[Any]: ...


def default_radius(bits: int) -> int:
    """The ``check`` radius when none is given: an eighth of the code (8 of 64 bits)."""
    return max(1, bits // 8)


class HashIndex:
    """A database of model hash codes with exact Hamming search.

    Open one with :func:`hnnframe.index.open`. SQLite indexes search an in-memory copy of the
    codes that follows the database (it appends rows added by other processes and reloads after
    a remove or rehash); PostgreSQL indexes compute distances in SQL unless ``search="memory"``.

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
        self._use_sql = store.sql_search and search != "memory"
        self._scanner: HammingScanner | None = None
        self._epoch = -1
        self._max_id = 0

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
        self._scanner = None

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

        Raises:
            IndexStoreError: The index is bound to another checkpoint or Q.
        """
        if isinstance(results, HashLike):
            results = [results]
        recs = [NewRecord.from_hash(r, label=label, meta=meta) for r in results]
        ckpt = os.path.abspath(checkpoint) if checkpoint is not None else None
        return self._store.add(recs, fingerprint, ckpt)

    def add_models(
        self,
        sources: Sequence[str | os.PathLike],
        hasher: HasherLike,
        *,
        checkpoint: str | os.PathLike | None = None,
        label: str | None = None,
        meta: dict[str, Any] | None = None,
        progress: bool = False,
    ) -> list[AddResult]:
        """Hash model files with ``hasher`` and add them (the binding is checked first).

        Files whose sha256 is already indexed are not hashed again. If any model cannot be
        parsed, the hasher's error propagates and nothing is added.
        """
        from hnnframe.files import file_sha256

        self.ensure_compatible(hasher.bits, hasher.fingerprint)
        keys = []
        for src in sources:
            s = os.fspath(src)
            keys.append(file_sha256(s) if not _is_uri(s) and os.path.isfile(s) else f"uri:{s}")
        known = self._store.existing(keys)
        todo = [os.fspath(s) for s, key in zip(sources, keys, strict=True) if key not in known]
        results = hasher.hash_many(todo, progress=progress) if todo else []
        added = iter(
            self.add(
                results, fingerprint=hasher.fingerprint, checkpoint=checkpoint, label=label,
                meta=meta,
            ) if results else []
        )  # fmt: skip
        out = []
        for key in keys:
            if key in known:
                rid, name = known[key]
                out.append(AddResult(rid, name, key, False))
            else:
                out.append(next(added))
        return out

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
        from tqdm import tqdm

        epoch, _, _ = self._store.state()
        records = self._store.list()
        gone: list[IndexRecord] = []
        todo: list[IndexRecord] = []
        for r in records:
            (todo if _is_uri(r.path) or os.path.isfile(r.path) else gone).append(r)
        changed: list[IndexRecord] = []

        def hash_records(recs: list[IndexRecord], bar: Any = None) -> Updates:
            out: Updates = {}
            for start in range(0, len(recs), batch_size):
                chunk = recs[start : start + batch_size]
                results = hasher.hash_many([r.path for r in chunk], progress=False)
                for r, res in zip(chunk, results, strict=True):
                    if r.sha256 and res.sha256 and res.sha256 != r.sha256:
                        changed.append(r)
                    else:
                        out[r.id] = (bytes(res.code), res.category)
                if bar is not None:
                    bar.update(len(chunk))
            return out

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

        n = self._store.rehash(
            updates, hasher.fingerprint, hasher.bits, ckpt, epoch, hash_new=hash_new, drop=drop
        )
        self._scanner = None
        return {
            "rehashed": n,
            "dropped": [r.path for r in gone + changed],
            "bits": hasher.bits,
            "fingerprint": hasher.fingerprint,
            "checkpoint": ckpt,
        }

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
        s = self._store.stats()
        if self._scanner is not None:
            s["memory_bytes"] = self._scanner.nbytes
        return s

    def verify(self) -> list[str]:
        """A full consistency check; returns the problems found (empty when healthy)."""
        return self._store.verify()

    def _query_code(self, query: Query, fingerprint: str | None) -> tuple[bytes, Binding]:
        if isinstance(query, (bytes, bytearray, memoryview)):
            code = bytes(query)
        elif isinstance(query, str):
            try:
                code = bytes.fromhex(query.removeprefix("hex:"))
            except ValueError as e:
                raise IndexStoreError(f"{query!r} is not a hex code") from e
        elif hasattr(query, "code"):
            code = bytes(query.code)
            if int(getattr(query, "bits", len(code) * 8)) != len(code) * 8:
                raise IndexStoreError("the query's code length does not match its bits")
        else:
            raise TypeError(f"cannot search with a {type(query).__name__}")
        b = self._store.binding()
        if not code:
            raise IndexStoreError("empty query code")
        self._store.check_binding(b, len(code) * 8, fingerprint)
        return code, b

    def _sync(self) -> HammingScanner | None:
        """Bring the in-memory codes up to date with the database.

        Writers hold the index's write lock from before they draw ids until they commit (on
        both backends), so rows commit in id order and appending the rows with ``id`` above
        the largest held is enough. A remove or rehash bumps the epoch, which forces a reload.
        """
        for _ in range(10):
            epoch, max_id, bits = self._store.state()
            if bits is None:
                self._scanner = None
                return None
            sc = self._scanner
            if sc is not None and sc.bits == bits and epoch == self._epoch:
                if max_id > self._max_id:
                    ep2, _ = self._store.load_codes(self._max_id, sc.add, bits)
                    self._max_id = int(sc.ids[-1]) if len(sc) else 0
                    if ep2 == epoch:
                        return sc
                    self._scanner = None
                    continue
                return sc
            new = HammingScanner(bits)
            ep2, bits2 = self._store.load_codes(0, new.add, bits)
            if (ep2, bits2) != (epoch, bits):
                continue  # removed or re-hashed meanwhile
            self._scanner, self._epoch = new, ep2
            self._max_id = int(new.ids[-1]) if len(new) else 0
            log.debug("loaded %d codes from %s", len(new), self.url)
            return new
        raise IndexStoreError(f"{self.url} kept changing while its codes were loaded; try again")

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
        code, _ = self._query_code(query, fingerprint)
        if k is not None and k < 0:
            raise IndexStoreError(f"k must be >= 0, not {k}")
        if k is None and radius is None:
            raise IndexStoreError("give k, radius or both")
        if self._use_sql:
            return [Match(d, r) for d, r in self._store.search_sql(code, k, radius)]
        sc = self._sync()
        if sc is None:
            return []
        ids, dists = sc.search(code, k=k, radius=radius)
        recs = self._store.get(ids.tolist())
        # A row removed between the scan and the fetch is skipped.
        return [
            Match(int(d), recs[int(i)]) for i, d in zip(ids, dists, strict=True) if int(i) in recs
        ]

    def search_many(
        self, queries: Sequence[Query], k: int | None = 10, radius: int | None = None, *,
        fingerprint: str | None = None,
    ) -> list[list[Match]]:  # fmt: skip
        """:meth:`search` for each query."""
        return [self.search(q, k, radius, fingerprint=fingerprint) for q in queries]

    def check(
        self, query: Query, radius: int | None = None, *, fingerprint: str | None = None
    ) -> CheckResult:
        """Whether an uploaded model is a suspected copy of a stored one.

        Args:
            query: The upload's hash result (or code).
            radius: Largest distance that counts as a match; default :func:`default_radius`.
            fingerprint: The checkpoint that computed ``query``.

        Returns:
            Every stored model within ``radius``, nearest first; ``clean`` when there is none.
        """
        code, b = self._query_code(query, fingerprint)
        r = default_radius(b.bits or len(code) * 8) if radius is None else int(radius)
        if r < 0:
            raise IndexStoreError(f"radius must be >= 0, not {r}")
        return CheckResult(radius=r, matches=self.search(code, k=None, radius=r))
