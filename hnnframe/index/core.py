"""The hash index: a store of records plus Hamming search, bound to one checkpoint."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from hnnframe.errors import IndexStoreError
from hnnframe.index.records import (
    AddResult,
    Binding,
    CheckResult,
    HasherLike,
    HashLike,
    IndexRecord,
    Match,
    NewRecord,
    is_uri,
)
from hnnframe.index.rehash import rehash_index
from hnnframe.index.report import problems, summary
from hnnframe.index.scan import HammingScanner
from hnnframe.index.store import Store
from hnnframe.log import get_logger

log = get_logger(__name__)

#: A query: a hash result, packed code bytes, or a code in hex.
Query = HashLike | bytes | str
#: Models hashed and committed per transaction by :meth:`HashIndex.add_models`.
ADD_CHUNK = 32


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
        chunk: int = ADD_CHUNK,
    ) -> list[AddResult]:
        """Hash model files with ``hasher`` and add them, one transaction per ``chunk`` models.

        A batch survives bad files and interruptions (docs/index-guide.md, "Adding many
        models"): files whose sha256 is indexed are not hashed again; a file that cannot be
        read or hashed gets a result with ``error`` set and the others go on; each chunk is
        committed once hashed, so a killed batch keeps its chunks and a rerun hashes the rest.

        The binding is checked before anything is hashed, and by every chunk's transaction.
        What stops the whole batch (another checkpoint or Q, a database error) raises
        :class:`IndexStoreError`; the chunks committed before it stay.

        Returns:
            One :class:`AddResult` per source, in order, with ``path`` as given.
        """
        from tqdm import tqdm

        from hnnframe.files import file_sha256
        from hnnframe.frontends import model_name

        if chunk < 1:
            raise IndexStoreError(f"chunk must be at least 1, not {chunk}")
        self.ensure_compatible(hasher.bits, hasher.fingerprint)
        srcs = [os.fspath(s) for s in sources]
        out: list[AddResult | None] = [None] * len(srcs)
        keys: list[str | None] = [None] * len(srcs)  # None: no file there; the hasher says why
        bar = tqdm(srcs, desc="sha256", unit="file", disable=not progress or len(srcs) < 2)
        for i, s in enumerate(bar):
            if is_uri(s):
                keys[i] = f"uri:{s}"
            elif os.path.isfile(s):
                try:
                    keys[i] = file_sha256(s)
                except OSError as e:
                    out[i] = AddResult.failed(model_name(s), s, f"{s}: {e.strerror or e}")
        known = self._store.existing([k for k in keys if k is not None])
        for i, key in enumerate(keys):
            if key in known:
                rid, name = known[key]
                out[i] = AddResult(rid, name, key, False, srcs[i])
        todo = [i for i in range(len(srcs)) if out[i] is None]
        log.info(
            "%s: %d of %d model(s) already indexed; hashing %d",
            self.url, sum(k in known for k in keys), len(srcs), len(todo),
        )  # fmt: skip
        shas = [None if is_uri(srcs[i]) else keys[i] for i in todo]
        pending = iter(todo)
        for results in hasher.iter_hash(
            [srcs[i] for i in todo], chunk=chunk, progress=progress, shas=shas
        ):
            part = [(next(pending), r) for r in results]
            good = [(i, r) for i, r in part if r.ok]
            added = self.add(
                [r for _, r in good], fingerprint=hasher.fingerprint, checkpoint=checkpoint,
                label=label, meta=meta,
            )  # fmt: skip
            for (i, _), a in zip(good, added, strict=True):
                out[i] = replace(a, path=srcs[i])
            for i, r in part:
                if not r.ok:
                    out[i] = AddResult.failed(model_name(srcs[i]), srcs[i], r.error)
        done = [r for r in out if r is not None]
        if len(done) != len(srcs):
            raise ValueError("the hasher returned fewer results than it was given models")
        return done

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
            self._store, hasher, checkpoint=checkpoint, drop_missing=drop_missing,
            progress=progress, batch_size=batch_size,
        )  # fmt: skip
        self._scanner = None
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
        if self._scanner is not None:
            s["memory_bytes"] = self._scanner.nbytes
        return s

    def verify(self) -> list[str]:
        """A full consistency check; returns the problems found (empty when healthy)."""
        return problems(self._store)

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
                if max_id > sc.max_id:
                    ep2, _ = self._store.load_codes(sc.max_id, sc.add, bits)
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
        return self._search_code(code, k, radius)

    def _search_code(self, code: bytes, k: int | None, radius: int | None) -> list[Match]:
        """:meth:`search` for a code that :meth:`_query_code` has checked."""
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
        return CheckResult(radius=r, matches=self._search_code(code, None, r))
