"""The storage of an index: one set of operations and transactions on SQLite and PostgreSQL.

:class:`Store` holds everything the two backends share (the schema is described in
:mod:`hnnframe.index.sql`); :class:`~hnnframe.index.sqlite.SQLiteStore` and
:class:`~hnnframe.index.postgres.PostgresStore` supply the connection, the dialect and the
driver's errors.

Every write is one transaction that first takes the index's write lock (SQLite
``BEGIN IMMEDIATE``; PostgreSQL ``LOCK TABLE hnn_meta IN EXCLUSIVE MODE``), then checks the
binding, then writes. A process killed at any point leaves either all of a write or none of it.
Driver errors become :class:`~hnnframe.errors.IndexStoreError` with the index's name in the
message. A record's weights (its ``hnn_weights`` row and tensor digests) are written in the
same transaction as the record, and deleted with it.

Operations built on these statements live beside it: :mod:`~hnnframe.index.schema` (creating
and migrating), :mod:`~hnnframe.index.mirror` (in-memory codes), :mod:`~hnnframe.index.tiers`
(the look-ups of ``check``), :mod:`~hnnframe.index.rehash` and :mod:`~hnnframe.index.report`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from hnnframe.errors import IndexStoreError
from hnnframe.evidence import Subject
from hnnframe.index import signal_store
from hnnframe.index.records import AddResult, Binding, IndexRecord, NewRecord, WeightInfo
from hnnframe.index.sql import COLUMNS, RECORDS, filters, in_chunks, iso, joined, utc_now
from hnnframe.weights.fingerprint import WeightFingerprint, load_threshold


class Store(ABC):
    """Operations shared by the SQLite and PostgreSQL stores.

    Subclasses supply the connection, the SQL dialect differences and the error types; the
    transaction logic is written once here. The statements that take a cursor (``read_meta``,
    ``set_meta``, ``rows_in``, ``update_code``...) run inside a :meth:`transaction`, so that
    operations written elsewhere (:mod:`hnnframe.index.rehash`, :mod:`hnnframe.index.report`,
    :mod:`hnnframe.index.tiers`) compose them into one.
    """

    backend: str = ""
    #: Whether :meth:`search_sql` is available (PostgreSQL computes distances in SQL).
    sql_search: bool = False
    #: Placeholder of the driver's paramstyle.
    ph: str = "?"
    #: ``version: statements`` of the dialect's schema migrations.
    migrations: dict[int, list[str]] = {}
    #: The dialect's SQL type of each column kind an evidence signal may declare.
    column_types: dict[str, str] = {}

    def __init__(self, display: str) -> None:
        self.display = display
        self._conn: Any = None

    # -- dialect hooks ---------------------------------------------------------------------------
    @property
    @abstractmethod
    def _errors(self) -> tuple[type[BaseException], ...]: ...

    @abstractmethod
    def _begin_write(self, cur: Any) -> None: ...

    @abstractmethod
    def _begin_read(self, cur: Any) -> None: ...

    @abstractmethod
    def _insert(self, cur: Any, rec: NewRecord, fingerprint: str, added_at: str) -> int | None:
        """Insert unless ``rec.key`` exists; the new id, or ``None`` when it existed."""

    @abstractmethod
    def _insert_weights(self, cur: Any, rid: int, w: WeightFingerprint) -> None:
        """Insert record ``rid``'s ``hnn_weights`` row (its digests go in separately)."""

    @abstractmethod
    def update_code(self, cur: Any, rid: int, code: bytes, bits: int, fp: str, cat: str) -> None:
        """Replace record ``rid``'s code, Q, fingerprint and category."""

    @abstractmethod
    def _meta_value(self, value: Any) -> dict[str, Any]: ...

    @abstractmethod
    def tables(self, cur: Any) -> set[str]:
        """The names of the index's tables."""

    @abstractmethod
    def storage_bytes(self, cur: Any) -> int | None:
        """The size of the index on disk (database file, or tables)."""

    @abstractmethod
    def integrity_problems(self, cur: Any) -> list[str]:
        """What the backend's own check of its storage finds wrong."""

    def _error(self, e: BaseException) -> IndexStoreError:
        return IndexStoreError(f"{self.display}: {joined(e)}")

    def q(self, sql: str) -> str:
        """``sql`` with ``?`` placeholders in the driver's style."""
        return sql if self.ph == "?" else sql.replace("?", self.ph)

    # -- transactions ----------------------------------------------------------------------------
    @contextmanager
    def transaction(self, write: bool) -> Iterator[Any]:
        """A transaction; ``write`` takes the index's write lock first. Errors roll back."""
        try:
            cur = self._conn.cursor()
            if write:
                self._begin_write(cur)
            else:
                self._begin_read(cur)
        except self._errors as e:
            raise self._error(e) from e
        try:
            yield cur
        except BaseException as e:
            try:
                cur.execute("ROLLBACK")
            except self._errors:
                pass
            if isinstance(e, self._errors):
                raise self._error(e) from e
            raise
        else:
            try:
                cur.execute("COMMIT")
            except self._errors as e:
                raise self._error(e) from e

    # -- statements inside a transaction ----------------------------------------------------------
    def read_meta(self, cur: Any) -> dict[str, str]:
        """Every ``hnn_meta`` entry."""
        cur.execute("SELECT key, value FROM hnn_meta")
        return {k: v for k, v in cur.fetchall()}

    def set_meta(self, cur: Any, key: str, value: Any) -> None:
        """Set ``hnn_meta[key]``; ``None`` deletes it."""
        cur.execute(self.q("DELETE FROM hnn_meta WHERE key = ?"), (key,))
        if value is not None:
            cur.execute(
                self.q("INSERT INTO hnn_meta (key, value) VALUES (?, ?)"), (key, str(value))
            )

    def bump_epoch(self, cur: Any, meta: dict[str, str]) -> None:
        """Tell in-memory code arrays to reload (after a remove or a rehash)."""
        self.set_meta(cur, "epoch", int(meta.get("epoch", 0)) + 1)

    @staticmethod
    def binding_of(meta: dict[str, str]) -> Binding:
        """The binding that ``hnn_meta`` entries describe."""
        return Binding(
            bits=int(meta["bits"]) if meta.get("bits") else None,
            fingerprint=meta.get("fingerprint") or None,
            checkpoint=meta.get("checkpoint") or None,
            epoch=int(meta.get("epoch", 0)),
            weight_bits=int(meta["weight_bits"]) if meta.get("weight_bits") else None,
        )

    def _row(self, row: Sequence[Any]) -> IndexRecord:
        rid, name, path, sha, code, bits, fp, cat, label, meta, added, structure = row[:12]
        graph_digest, config_digest = row[12:14]
        wfmt, wcode, wbits, wset, wtensors, wparams, wlargest = row[14:21]
        weights = None
        if wfmt is not None:
            weights = WeightInfo(wfmt, int(wbits), bytes(wcode), wset, int(wtensors),
                                 int(wparams), int(wlargest))  # fmt: skip
        return IndexRecord(
            id=int(rid), name=name, path=path, sha256=sha, code=bytes(code), bits=int(bits),
            fingerprint=fp, category=cat, label=label, meta=self._meta_value(meta),
            added_at=iso(added), structure=structure, weights=weights,
            graph_digest=graph_digest, config_digest=config_digest,
        )  # fmt: skip

    def rows_in(self, cur: Any, ids: Sequence[int]) -> list[IndexRecord]:
        """The records of ``ids`` that exist, in id order (inside a transaction)."""
        out = []
        for part, marks in in_chunks(ids):
            sql = f"SELECT {COLUMNS} FROM {RECORDS} WHERE m.id IN ({marks}) ORDER BY m.id"
            cur.execute(self.q(sql), part)
            out += [self._row(r) for r in cur.fetchall()]
        return out

    def delete_records(self, cur: Any, ids: Sequence[int]) -> None:
        """Delete records with their weight rows and tensor digests (inside a transaction)."""
        for part, marks in in_chunks(list(ids)):
            signal_store.delete_values(self, cur, part, marks)
            for table, col in (("hnn_tensors", "model_id"), ("hnn_weights", "model_id"),
                               ("hnn_models", "id")):  # fmt: skip
                cur.execute(self.q(f"DELETE FROM {table} WHERE {col} IN ({marks})"), part)

    def _insert_tensors(self, cur: Any, rid: int, w: WeightFingerprint) -> None:
        """Record ``rid``'s tensor digests, one row per distinct digest with its count."""
        rows: dict[str, list[int]] = {}
        for t in w.digests:
            rows.setdefault(t.digest, [t.numel, 0])[1] += 1
        cur.executemany(
            self.q("INSERT INTO hnn_tensors (model_id, digest, numel, copies) VALUES (?, ?, ?, ?)"),
            [(rid, d, n, c) for d, (n, c) in sorted(rows.items())],
        )

    # -- operations ------------------------------------------------------------------------------
    def binding(self) -> Binding:
        """The index's binding, read now."""
        with self.transaction(write=False) as cur:
            return self.binding_of(self.read_meta(cur))

    def check_binding(self, b: Binding, bits: int, fingerprint: str | None) -> None:
        """Raise unless a ``bits``-bit code from checkpoint ``fingerprint`` fits binding ``b``."""
        if not b.bound:
            return
        if fingerprint is not None and fingerprint != b.fingerprint:
            raise IndexStoreError(
                f"{self.display} is bound to checkpoint {b.fingerprint[:12]} "
                f"({b.checkpoint or 'path unknown'}); these codes come from checkpoint "
                f"{fingerprint[:12]}. Hash with the index's checkpoint, or re-hash the index "
                "with `hnn index rehash --checkpoint NEW`"
            )
        if bits != b.bits:
            raise IndexStoreError(
                f"{self.display} holds {b.bits}-bit codes; got a {bits}-bit code "
                "(codes of different Q cannot be compared)"
            )

    def add(
        self, records: Sequence[NewRecord], fingerprint: str, checkpoint: str | None = None
    ) -> list[AddResult]:
        """Add records in one transaction; a record whose key exists is left as it is.

        The first add binds an empty index to ``fingerprint``, the records' Q and
        ``checkpoint`` (a path, kept so that search can load the hasher); the first record
        with weights binds the Q of the weight codes. A new record's weights go in with it
        (its ``hnn_weights`` row and tensor digests).

        Raises:
            IndexStoreError: The records' checkpoint or Q differ from the index's, a code's
                length does not match its ``bits``, or weight codes are of another Q than the
                index's. Nothing is written then.
        """
        for r in records:
            if len(r.code) * 8 != r.bits:
                raise IndexStoreError(f"{r.name}: code has {len(r.code) * 8} bits, not {r.bits}")
            if r.weights is not None and len(r.weights.code) * 8 != r.weights.bits:
                raise IndexStoreError(f"{r.name}: its weight code does not have its bits")
        if len({r.bits for r in records}) > 1:
            raise IndexStoreError("records of different code lengths in one add")
        wbits = {r.weights.bits for r in records if r.weights is not None}
        if len(wbits) > 1:
            raise IndexStoreError("weight codes of different lengths in one add")
        if wbits:
            load_threshold(next(iter(wbits)))  # a Q with no measured threshold is refused
        out: list[AddResult] = []
        if not records:
            return out
        added_at = utc_now()
        with self.transaction(write=True) as cur:
            meta = self.read_meta(cur)
            b = self.binding_of(meta)
            self.check_binding(b, records[0].bits, fingerprint)
            if not b.bound:
                self.set_meta(cur, "bits", records[0].bits)
                self.set_meta(cur, "fingerprint", fingerprint)
                self.set_meta(cur, "bound_at", added_at)
            if checkpoint and checkpoint != b.checkpoint:
                self.set_meta(cur, "checkpoint", checkpoint)
            if wbits:
                q = next(iter(wbits))
                if b.weight_bits is None:
                    self.set_meta(cur, "weight_bits", q)
                elif b.weight_bits != q:
                    raise IndexStoreError(
                        f"{self.display} holds {b.weight_bits}-bit weight codes; got {q}-bit "
                        "ones (weight codes of different Q cannot be compared)"
                    )
            signal_store.ensure_tables(self, cur)
            for r in records:
                rid = self._insert(cur, r, fingerprint, added_at)
                if rid is None:
                    cur.execute(self.q("SELECT id FROM hnn_models WHERE key = ?"), (r.key,))
                    out.append(AddResult(int(cur.fetchone()[0]), r.name, r.key, False, r.path))
                    continue
                info = None
                if r.weights is not None:
                    self._insert_weights(cur, rid, r.weights)
                    self._insert_tensors(cur, rid, r.weights)
                    info = WeightInfo.of(r.weights).to_dict()
                signal_store.insert_values(self, cur, rid, Subject.of(r, r.weights))
                out.append(AddResult(rid, r.name, r.key, True, r.path, weights=info))
        return out

    def existing(self, keys: Sequence[str]) -> dict[str, tuple[int, str]]:
        """``key -> (id, name)`` for the keys already stored."""
        out: dict[str, tuple[int, str]] = {}
        keys = list(dict.fromkeys(keys))
        with self.transaction(write=False) as cur:
            for part, marks in in_chunks(keys):
                cur.execute(
                    self.q(f"SELECT key, id, name FROM hnn_models WHERE key IN ({marks})"), part
                )
                out.update({k: (int(i), n) for k, i, n in cur.fetchall()})
        return out

    def count(self) -> int:
        """Number of records."""
        with self.transaction(write=False) as cur:
            cur.execute("SELECT COUNT(*) FROM hnn_models")
            return int(cur.fetchone()[0])

    def get(self, ids: Sequence[int]) -> dict[int, IndexRecord]:
        """Records by id (missing ids are left out)."""
        with self.transaction(write=False) as cur:
            return {r.id: r for r in self.rows_in(cur, [int(i) for i in ids])}

    def list(
        self,
        label: str | None = None,
        category: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[IndexRecord]:
        """Records in id order, optionally of one label and/or category."""
        where, args = filters(label, category)
        sql = f"SELECT {COLUMNS} FROM {RECORDS}{where} ORDER BY m.id"
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        elif offset:
            sql += f" LIMIT -1 OFFSET {int(offset)}" if self.ph == "?" else f" OFFSET {int(offset)}"
        with self.transaction(write=False) as cur:
            cur.execute(self.q(sql), args)
            return [self._row(r) for r in cur.fetchall()]

    def _find(self, cur: Any, selector: str) -> list[int]:
        s = selector.strip()
        if s.isdigit():
            cur.execute(self.q("SELECT id FROM hnn_models WHERE id = ?"), (int(s),))
        elif len(s) >= 8 and all(c in "0123456789abcdefABCDEF" for c in s):
            cur.execute(
                self.q("SELECT id FROM hnn_models WHERE sha256 LIKE ? ORDER BY id"),
                (s.lower() + "%",),
            )
        else:
            raise IndexStoreError(f"{selector!r} is neither a record id nor a sha256 (prefix)")
        return [int(r[0]) for r in cur.fetchall()]

    def remove(self, selectors: Sequence[str] = (), label: str | None = None) -> list[int]:
        """Remove records in one transaction; every selector must match, else nothing goes.

        Args:
            selectors: Record ids or sha256 digests (a prefix of 8+ hex digits that matches one
                record is enough).
            label: Also remove every record with this label.

        Returns:
            The removed ids.
        """
        with self.transaction(write=True) as cur:
            ids: set[int] = set()
            for s in selectors:
                found = self._find(cur, s)
                if not found:
                    raise IndexStoreError(f"{self.display}: no record matches {s!r}")
                if len(found) > 1 and not s.strip().isdigit() and len(s.strip()) < 64:
                    raise IndexStoreError(f"{self.display}: {s!r} matches {len(found)} records")
                ids.update(found)
            if label is not None:
                cur.execute(self.q("SELECT id FROM hnn_models WHERE label = ?"), (label,))
                ids.update(int(r[0]) for r in cur.fetchall())
            if ids:
                meta = self.read_meta(cur)
                self.delete_records(cur, sorted(ids))
                self.bump_epoch(cur, meta)
        return sorted(ids)

    def search_sql(
        self, code: bytes, k: int | None, radius: int | None
    ) -> list[tuple[int, IndexRecord]]:
        """``(distance, record)`` pairs computed by the database (PostgreSQL only)."""
        raise NotImplementedError

    def search_weights_sql(
        self, code: bytes, k: int | None, radius: int | None
    ) -> list[tuple[int, int]]:
        """``(distance, record id)`` pairs of weight codes, computed by the database
        (PostgreSQL only)."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            try:
                self._conn.close()
            except self._errors:
                pass
            self._conn = None
