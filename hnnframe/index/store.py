"""Storage of hash records: one schema and one set of operations on SQLite and PostgreSQL.

Two tables (prefixed ``hnn_`` so an index can share a PostgreSQL database with other data):

``hnn_meta(key, value)``
    ``schema_version``, ``created_at``, the binding (``bits``, ``fingerprint``, ``checkpoint``)
    and ``epoch``, a counter bumped by every remove and rehash so that an in-memory code array
    knows when it must reload rather than only append.
``hnn_models``
    One row per model: ``id``, ``key`` (unique: the file's sha256, or ``uri:PATH``), ``name``,
    ``path``, ``sha256``, ``code``, ``bits``, ``fingerprint``, ``category``, ``label``,
    ``meta`` (JSON), ``added_at``. PostgreSQL also keeps the code as ``code_bits bit varying``
    (length checked against ``bits``) so that ``bit_count(code_bits # query)`` computes the
    Hamming distance in SQL.

Every write is one transaction that first takes the index's write lock (SQLite
``BEGIN IMMEDIATE``; PostgreSQL ``LOCK TABLE hnn_meta IN EXCLUSIVE MODE``), then checks the
binding, then writes. A process killed at any point leaves either all of a write or none of it.
Driver errors become :class:`~hnnframe.errors.IndexStoreError` with the index's name in the
message.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from hnnframe.errors import IndexStoreError
from hnnframe.index.records import AddResult, Binding, IndexRecord, NewRecord
from hnnframe.log import get_logger

log = get_logger(__name__)

SCHEMA_VERSION = 1
SQLITE_MAGIC = b"SQLite format 3\x00"
#: Seconds a writer waits for another writer's lock before giving up.
LOCK_TIMEOUT_S = 120.0

_COLUMNS = "id, name, path, sha256, code, bits, fingerprint, category, label, meta, added_at"

#: ``(id, code, category)`` triples that replace codes during a rehash.
Updates = dict[int, tuple[bytes, str]]


def utc_now() -> str:
    """The current time, ISO 8601 in UTC to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat(timespec="seconds")
    return str(value)


def _in_chunks(values: Sequence[Any], size: int = 500) -> Iterator[tuple[list[Any], str]]:
    """``values`` in parts of ``size`` with their ``?`` placeholders, for ``IN (...)`` lists
    that stay under the databases' limits on bound parameters."""
    values = list(values)
    for start in range(0, len(values), size):
        part = values[start : start + size]
        yield part, ", ".join("?" * len(part))


def _code_bits(code: bytes) -> str:
    """A packed code as a ``'0101...'`` string, PostgreSQL's bit-string input."""
    return "".join(format(b, "08b") for b in code)


class Store(ABC):
    """Operations shared by the SQLite and PostgreSQL stores.

    Subclasses supply the connection, the SQL dialect differences and the error types; the
    transaction logic is written once here.
    """

    backend: str = ""
    #: Whether :meth:`search_sql` is available (PostgreSQL computes distances in SQL).
    sql_search: bool = False
    #: Placeholder of the driver's paramstyle.
    ph: str = "?"

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
    def _update_code(
        self, cur: Any, rid: int, code: bytes, bits: int, fp: str, cat: str
    ) -> None: ...

    @abstractmethod
    def _meta_value(self, value: Any) -> dict[str, Any]: ...

    def _error(self, e: BaseException) -> IndexStoreError:
        return IndexStoreError(f"{self.display}: {str(e).strip() or type(e).__name__}")

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

    def _read_meta(self, cur: Any) -> dict[str, str]:
        cur.execute("SELECT key, value FROM hnn_meta")
        return {k: v for k, v in cur.fetchall()}

    def _set_meta(self, cur: Any, key: str, value: Any) -> None:
        cur.execute(self.q("DELETE FROM hnn_meta WHERE key = ?"), (key,))
        if value is not None:
            cur.execute(
                self.q("INSERT INTO hnn_meta (key, value) VALUES (?, ?)"), (key, str(value))
            )

    def _bump_epoch(self, cur: Any, meta: dict[str, str]) -> None:
        self._set_meta(cur, "epoch", int(meta.get("epoch", 0)) + 1)

    @staticmethod
    def _binding(meta: dict[str, str]) -> Binding:
        return Binding(
            bits=int(meta["bits"]) if meta.get("bits") else None,
            fingerprint=meta.get("fingerprint") or None,
            checkpoint=meta.get("checkpoint") or None,
            epoch=int(meta.get("epoch", 0)),
        )

    def _row(self, row: Sequence[Any]) -> IndexRecord:
        rid, name, path, sha, code, bits, fp, cat, label, meta, added = row[:11]
        return IndexRecord(
            id=int(rid), name=name, path=path, sha256=sha, code=bytes(code), bits=int(bits),
            fingerprint=fp, category=cat, label=label, meta=self._meta_value(meta),
            added_at=_iso(added),
        )  # fmt: skip

    # -- operations ------------------------------------------------------------------------------
    def binding(self) -> Binding:
        """The index's binding, read now."""
        with self.transaction(write=False) as cur:
            return self._binding(self._read_meta(cur))

    def meta(self) -> dict[str, str]:
        """Every ``hnn_meta`` entry."""
        with self.transaction(write=False) as cur:
            return self._read_meta(cur)

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
        ``checkpoint`` (a path, kept so that search can load the hasher).

        Raises:
            IndexStoreError: The records' checkpoint or Q differ from the index's, or a code's
                length does not match its ``bits``. Nothing is written then.
        """
        for r in records:
            if len(r.code) * 8 != r.bits:
                raise IndexStoreError(f"{r.name}: code has {len(r.code) * 8} bits, not {r.bits}")
        if len({r.bits for r in records}) > 1:
            raise IndexStoreError("records of different code lengths in one add")
        out: list[AddResult] = []
        if not records:
            return out
        added_at = utc_now()
        with self.transaction(write=True) as cur:
            meta = self._read_meta(cur)
            b = self._binding(meta)
            self.check_binding(b, records[0].bits, fingerprint)
            if not b.bound:
                self._set_meta(cur, "bits", records[0].bits)
                self._set_meta(cur, "fingerprint", fingerprint)
                self._set_meta(cur, "bound_at", added_at)
            if checkpoint and checkpoint != b.checkpoint:
                self._set_meta(cur, "checkpoint", checkpoint)
            for r in records:
                rid = self._insert(cur, r, fingerprint, added_at)
                if rid is None:
                    cur.execute(self.q("SELECT id FROM hnn_models WHERE key = ?"), (r.key,))
                    out.append(AddResult(int(cur.fetchone()[0]), r.name, r.key, False))
                else:
                    out.append(AddResult(rid, r.name, r.key, True))
        return out

    def state(self) -> tuple[int, int, int | None]:
        """``(epoch, max id, bits)`` read in one snapshot."""
        with self.transaction(write=False) as cur:
            meta = self._read_meta(cur)
            cur.execute("SELECT MAX(id) FROM hnn_models")
            mx = cur.fetchone()[0]
        b = self._binding(meta)
        return b.epoch, int(mx or 0), b.bits

    def existing(self, keys: Sequence[str]) -> dict[str, tuple[int, str]]:
        """``key -> (id, name)`` for the keys already stored."""
        out: dict[str, tuple[int, str]] = {}
        keys = list(dict.fromkeys(keys))
        with self.transaction(write=False) as cur:
            for part, marks in _in_chunks(keys):
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

    def load_codes(
        self, after_id: int, sink: Callable[[np.ndarray, list[bytes]], None], bits: int
    ) -> tuple[int, int | None]:
        """Pass every record with ``id > after_id`` to ``sink(ids, codes)``, in id order.

        One read snapshot, in pages of 65,536 rows, so memory stays bounded. Nothing is passed
        if the index's Q is no longer ``bits`` (a rehash happened).

        Returns:
            The snapshot's ``(epoch, bits)``.
        """
        with self.transaction(write=False) as cur:
            b = self._binding(self._read_meta(cur))
            if b.bits != bits:
                return b.epoch, b.bits
            last = after_id
            sql = self.q("SELECT id, code FROM hnn_models WHERE id > ? ORDER BY id LIMIT 65536")
            while True:
                cur.execute(sql, (last,))
                rows = cur.fetchall()
                if not rows:
                    break
                ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
                sink(ids, [bytes(r[1]) for r in rows])
                last = int(ids[-1])
        return b.epoch, b.bits

    def get(self, ids: Sequence[int]) -> dict[int, IndexRecord]:
        """Records by id (missing ids are left out)."""
        out: dict[int, IndexRecord] = {}
        ids = [int(i) for i in ids]
        with self.transaction(write=False) as cur:
            for part, marks in _in_chunks(ids):
                cur.execute(
                    self.q(f"SELECT {_COLUMNS} FROM hnn_models WHERE id IN ({marks})"), part
                )
                for row in cur.fetchall():
                    out[int(row[0])] = self._row(row)
        return out

    def list(
        self,
        label: str | None = None,
        category: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[IndexRecord]:
        """Records in id order, optionally of one label and/or category."""
        where, args = self._filters(label, category)
        sql = f"SELECT {_COLUMNS} FROM hnn_models{where} ORDER BY id"
        if limit is not None:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        elif offset:
            sql += f" LIMIT -1 OFFSET {int(offset)}" if self.ph == "?" else f" OFFSET {int(offset)}"
        with self.transaction(write=False) as cur:
            cur.execute(self.q(sql), args)
            return [self._row(r) for r in cur.fetchall()]

    @staticmethod
    def _filters(label: str | None, category: str | None) -> tuple[str, list[Any]]:
        conds, args = [], []
        if label is not None:
            conds.append("label = ?")
            args.append(label)
        if category is not None:
            conds.append("category = ?")
            args.append(category)
        return (" WHERE " + " AND ".join(conds) if conds else ""), args

    def find(self, selector: str) -> list[int]:
        """Ids matching ``selector``: a numeric id, a sha256 (or a prefix of 8+ hex digits)."""
        with self.transaction(write=False) as cur:
            return self._find(cur, selector)

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
                meta = self._read_meta(cur)
                for part, marks in _in_chunks(sorted(ids)):
                    cur.execute(self.q(f"DELETE FROM hnn_models WHERE id IN ({marks})"), part)
                self._bump_epoch(cur, meta)
        return sorted(ids)

    def stats(self) -> dict[str, Any]:
        """Counts per category and label, the binding and the storage size."""
        with self.transaction(write=False) as cur:
            meta = self._read_meta(cur)
            cur.execute("SELECT COUNT(*), MIN(added_at), MAX(added_at) FROM hnn_models")
            n, first, last = cur.fetchone()
            cur.execute(
                "SELECT category, COUNT(*) FROM hnn_models GROUP BY category ORDER BY 2 DESC, 1"
            )
            cats = {c: int(k) for c, k in cur.fetchall()}
            cur.execute("SELECT label, COUNT(*) FROM hnn_models GROUP BY label ORDER BY 2 DESC, 1")
            labels = {("" if lab is None else lab): int(k) for lab, k in cur.fetchall()}
            size = self._size(cur)
        b = self._binding(meta)
        return {
            "url": self.display,
            "backend": self.backend,
            "schema_version": int(meta.get("schema_version", 0)),
            "created_at": meta.get("created_at"),
            "records": int(n),
            "bits": b.bits,
            "fingerprint": b.fingerprint,
            "checkpoint": b.checkpoint,
            "first_added": _iso(first) if first is not None else None,
            "last_added": _iso(last) if last is not None else None,
            "categories": cats,
            "labels": labels,
            "bytes": size,
        }

    @abstractmethod
    def _size(self, cur: Any) -> int | None: ...

    def verify(self) -> list[str]:
        """Problems found by a full check (storage integrity, code lengths, fingerprints)."""
        problems: list[str] = []
        with self.transaction(write=False) as cur:
            problems += self._integrity(cur)
            b = self._binding(self._read_meta(cur))
            cur.execute("SELECT COUNT(*) FROM hnn_models")
            n = int(cur.fetchone()[0])
            if n and not b.bound:
                problems.append(f"{n} records but the index is not bound to a checkpoint")
            if b.bound:
                cur.execute(
                    self.q("SELECT COUNT(*) FROM hnn_models WHERE bits <> ? OR fingerprint <> ?"),
                    (b.bits, b.fingerprint),
                )
                k = int(cur.fetchone()[0])
                if k:
                    problems.append(f"{k} records of another checkpoint or Q")
                cur.execute(self._bad_length_sql())
                k = int(cur.fetchone()[0])
                if k:
                    problems.append(f"{k} codes whose length differs from their bits")
        return problems

    @abstractmethod
    def _integrity(self, cur: Any) -> list[str]: ...

    def _bad_length_sql(self) -> str:
        return "SELECT COUNT(*) FROM hnn_models WHERE length(code) * 8 <> bits"

    def _seed_meta(self, cur: Any) -> None:
        """First rows of a new index's meta table (unless a concurrent creator wrote them)."""
        cur.execute("SELECT COUNT(*) FROM hnn_meta")
        if cur.fetchone()[0] == 0:
            for k, v in {"schema_version": SCHEMA_VERSION, "created_at": utc_now(),
                         "epoch": 0}.items():  # fmt: skip
                cur.execute(self.q("INSERT INTO hnn_meta (key, value) VALUES (?, ?)"), (k, str(v)))

    def _check_schema_version(self, cur: Any) -> None:
        cur.execute("SELECT value FROM hnn_meta WHERE key = 'schema_version'")
        row = cur.fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise IndexStoreError(
                f"{self.display} has index schema {version}; this hnnframe reads up to {SCHEMA_VERSION}"
            )
        if version < 1:
            raise IndexStoreError(f"{self.display} is not an hnn index (no schema version)")

    def rehash(
        self,
        updates: Updates,
        fingerprint: str,
        bits: int,
        checkpoint: str | None,
        expected_epoch: int,
        hash_new: Callable[[list[IndexRecord]], Updates],
        drop: Sequence[int] = (),
    ) -> int:
        """Replace every record's code and category in one transaction and re-bind the index.

        Args:
            updates: New ``(code, category)`` per id, computed before the transaction.
            fingerprint, bits, checkpoint: The new binding.
            expected_epoch: The epoch when ``updates`` were computed; if a remove or rehash
                happened since, the rehash is refused (run it again).
            hash_new: Called inside the transaction with records added since ``updates`` were
                computed (their codes are from the old checkpoint); returns their updates.
            drop: Ids to remove (models whose file is gone).

        Returns:
            The number of records re-hashed.
        """
        with self.transaction(write=True) as cur:
            meta = self._read_meta(cur)
            if self._binding(meta).epoch != expected_epoch:
                raise IndexStoreError(
                    f"{self.display} changed (records removed or re-hashed) during the rehash; "
                    "run it again"
                )
            cur.execute("SELECT id FROM hnn_models ORDER BY id")
            present = [int(r[0]) for r in cur.fetchall()]
            dropset = set(drop)
            new_ids = [i for i in present if i not in updates and i not in dropset]
            if new_ids:
                recs = self._get_in(cur, new_ids)
                updates = {**updates, **hash_new(recs)}
            for part, marks in _in_chunks(list(drop)):
                cur.execute(self.q(f"DELETE FROM hnn_models WHERE id IN ({marks})"), part)
            count = 0
            for rid in present:
                if rid in dropset:
                    continue
                code, category = updates[rid]
                if len(code) * 8 != bits:
                    raise IndexStoreError(
                        f"record {rid}: new code has {len(code) * 8} bits, not {bits}"
                    )
                self._update_code(cur, rid, code, bits, fingerprint, category)
                count += 1
            self._set_meta(cur, "bits", bits)
            self._set_meta(cur, "fingerprint", fingerprint)
            self._set_meta(cur, "checkpoint", checkpoint)
            self._set_meta(cur, "bound_at", utc_now())
            self._bump_epoch(cur, meta)
        return count

    def _get_in(self, cur: Any, ids: list[int]) -> list[IndexRecord]:
        out = []
        for part, marks in _in_chunks(ids):
            cur.execute(
                self.q(f"SELECT {_COLUMNS} FROM hnn_models WHERE id IN ({marks}) ORDER BY id"), part
            )
            out += [self._row(r) for r in cur.fetchall()]
        return out

    def search_sql(
        self, code: bytes, k: int | None, radius: int | None
    ) -> list[tuple[int, IndexRecord]]:
        """``(distance, record)`` pairs computed by the database (PostgreSQL only)."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            try:
                self._conn.close()
            except self._errors:
                pass
            self._conn = None


# -- SQLite -----------------------------------------------------------------------------------------
_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS hnn_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS hnn_models (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    key         TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    sha256      TEXT,
    code        BLOB    NOT NULL,
    bits        INTEGER NOT NULL,
    fingerprint TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    label       TEXT,
    meta        TEXT    NOT NULL DEFAULT '{}',
    added_at    TEXT    NOT NULL,
    CHECK (length(code) * 8 = bits)
);
CREATE INDEX IF NOT EXISTS hnn_models_sha256 ON hnn_models (sha256);
CREATE INDEX IF NOT EXISTS hnn_models_label ON hnn_models (label);
"""


class SQLiteStore(Store):
    """An index in one SQLite file, in WAL mode (readers never block the writer).

    Args:
        path: The database file.
        create: Create the file and schema when missing; otherwise a missing file is an error.
    """

    backend = "sqlite"

    def __init__(self, path: str | os.PathLike, create: bool = True) -> None:
        self.path = Path(path)
        super().__init__(str(self.path))
        self._check_file(create)
        try:
            self._conn = sqlite3.connect(
                str(self.path),
                timeout=LOCK_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,
            )
            self._conn.execute(f"PRAGMA busy_timeout = {int(LOCK_TIMEOUT_S * 1000)}")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._init_schema(create)
        except sqlite3.Error as e:
            self.close()
            raise self._not_index(e) from e
        except IndexStoreError:
            self.close()
            raise

    @property
    def _errors(self) -> tuple[type[BaseException], ...]:
        return (sqlite3.Error,)

    def _error(self, e: BaseException) -> IndexStoreError:
        msg = str(e).strip()
        if isinstance(e, sqlite3.DatabaseError) and ("malformed" in msg or "not a database" in msg):
            return IndexStoreError(
                f"{self.display} is corrupted ({msg}); restore it from a backup or rebuild it "
                "with `hnn index add`"
            )
        if "locked" in msg:
            msg += f" (another process held the write lock for over {LOCK_TIMEOUT_S:.0f} s)"
        return IndexStoreError(f"{self.display}: {msg}")

    def _not_index(self, e: BaseException) -> IndexStoreError:
        msg = str(e).strip()
        if "not a database" in msg or "malformed" in msg:
            return IndexStoreError(f"{self.display} is not an hnn index or is corrupted ({msg})")
        return IndexStoreError(f"{self.display}: cannot open the index ({msg})")

    def _check_file(self, create: bool) -> None:
        p = self.path
        if p.is_dir():
            raise IndexStoreError(f"{p} is a directory, not an index file")
        if not p.exists():
            if not create:
                raise IndexStoreError(
                    f"no hash index at {p} (create one with `hnn index add --db {p} ...`)"
                )
            if not p.parent.exists():
                raise IndexStoreError(f"cannot create {p}: directory {p.parent} does not exist")
            return
        try:
            with open(p, "rb") as f:
                head = f.read(len(SQLITE_MAGIC))
        except OSError as e:
            raise IndexStoreError(f"cannot read {p}: {e.strerror or e}") from e
        if head and head != SQLITE_MAGIC:
            raise IndexStoreError(f"{p} is not an hnn index (not a SQLite database)")
        if not head and not create:
            raise IndexStoreError(f"{p} is empty, not an hnn index")

    def _init_schema(self, create: bool) -> None:
        cur = self._conn.cursor()
        tables = {r[0] for r in cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "hnn_meta" not in tables:
            if tables - {"sqlite_sequence"}:
                raise IndexStoreError(
                    f"{self.display} is a SQLite database but not an hnn index "
                    f"(tables: {', '.join(sorted(tables)[:5])})"
                )
            if not create:
                raise IndexStoreError(f"{self.display} is not an hnn index (no hnn_meta table)")
            self._set_wal(cur)
            cur.execute("BEGIN IMMEDIATE")
            try:
                # executescript() would commit the transaction first; run statement by statement.
                for stmt in filter(str.strip, _SQLITE_SCHEMA.split(";")):
                    cur.execute(stmt)
                self._seed_meta(cur)
                cur.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    cur.execute("ROLLBACK")
                raise
        else:
            mode = cur.execute("PRAGMA journal_mode").fetchone()[0]
            if mode != "wal":
                self._set_wal(cur)
        self._check_schema_version(cur)

    def _set_wal(self, cur: sqlite3.Cursor) -> None:
        # Switching to WAL needs a moment of exclusive access; another process opening the
        # same new file at once can make it fail with "locked" despite the busy timeout.
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                cur.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _begin_write(self, cur: Any) -> None:
        cur.execute("BEGIN IMMEDIATE")

    def _begin_read(self, cur: Any) -> None:
        cur.execute("BEGIN")

    def _insert(self, cur: Any, rec: NewRecord, fingerprint: str, added_at: str) -> int | None:
        cur.execute(
            "INSERT INTO hnn_models (key, name, path, sha256, code, bits, fingerprint, category,"
            " label, meta, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (key) DO NOTHING RETURNING id",
            (rec.key, rec.name, rec.path, rec.sha256, rec.code, rec.bits, fingerprint,
             rec.category, rec.label, json.dumps(rec.meta, sort_keys=True), added_at),
        )  # fmt: skip
        row = cur.fetchone()
        return None if row is None else int(row[0])

    def _update_code(self, cur: Any, rid: int, code: bytes, bits: int, fp: str, cat: str) -> None:
        cur.execute(
            "UPDATE hnn_models SET code = ?, bits = ?, fingerprint = ?, category = ? WHERE id = ?",
            (code, bits, fp, cat, rid),
        )

    def _meta_value(self, value: Any) -> dict[str, Any]:
        return json.loads(value) if value else {}

    def _size(self, cur: Any) -> int | None:
        return sum(
            os.path.getsize(p) for p in (self.path, Path(f"{self.path}-wal")) if os.path.exists(p)
        )

    def _integrity(self, cur: Any) -> list[str]:
        rows = [r[0] for r in cur.execute("PRAGMA integrity_check").fetchall()]
        return [] if rows == ["ok"] else [f"sqlite integrity_check: {r}" for r in rows]


# -- PostgreSQL -------------------------------------------------------------------------------------
_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS hnn_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS hnn_models (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key         TEXT        NOT NULL UNIQUE,
    name        TEXT        NOT NULL,
    path        TEXT        NOT NULL,
    sha256      TEXT,
    code        BYTEA       NOT NULL,
    code_bits   BIT VARYING NOT NULL,
    bits        INTEGER     NOT NULL,
    fingerprint TEXT        NOT NULL,
    category    TEXT        NOT NULL,
    label       TEXT,
    meta        JSONB       NOT NULL DEFAULT '{}',
    added_at    TIMESTAMPTZ NOT NULL,
    CHECK (length(code) * 8 = bits AND length(code_bits) = bits)
);
CREATE INDEX IF NOT EXISTS hnn_models_sha256 ON hnn_models (sha256);
CREATE INDEX IF NOT EXISTS hnn_models_label ON hnn_models (label);
"""


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


class PostgresStore(Store):
    """An index in a PostgreSQL database, shared by many processes and machines.

    ``schema=NAME`` in the URL's query keeps the index's tables in that PostgreSQL schema
    (created if missing), so one database can hold several indexes.

    Args:
        url: ``postgresql://user:password@host:port/dbname[?schema=NAME&...]``.
        create: Create the tables when missing.
    """

    backend = "postgresql"
    sql_search = True
    ph = "%s"

    def __init__(self, url: str, create: bool = True) -> None:
        super().__init__(mask_url(url))
        try:
            import psycopg2
        except ImportError as e:  # pragma: no cover - psycopg2-binary is a dependency
            raise IndexStoreError(
                "a PostgreSQL index needs psycopg2 (pip install psycopg2-binary)"
            ) from e
        self._pg = psycopg2
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        self.schema = next((v for k, v in query if k == "schema"), None)
        query = [(k, v) for k, v in query if k != "schema"]
        if not any(k == "connect_timeout" for k, _ in query):
            query.append(("connect_timeout", "10"))
        dsn = urlunsplit(parts._replace(scheme="postgresql", query=urlencode(query)))
        try:
            self._conn = psycopg2.connect(dsn)
            self._conn.autocommit = True  # transactions are explicit BEGIN ... COMMIT
            self._init_schema(create)
        except psycopg2.Error as e:
            self.close()
            raise IndexStoreError(
                f"cannot use PostgreSQL index {self.display}: {str(e).strip()}"
            ) from e
        except IndexStoreError:
            self.close()
            raise

    @property
    def _errors(self) -> tuple[type[BaseException], ...]:
        return (self._pg.Error,)

    def _init_schema(self, create: bool) -> None:
        cur = self._conn.cursor()
        ident = '"' + (self.schema or "").replace('"', '""') + '"'
        if self.schema:
            cur.execute(f"SET search_path TO {ident}")  # may not exist yet: resolved lazily
        cur.execute("SELECT to_regclass('hnn_meta') IS NOT NULL")
        if not cur.fetchone()[0]:
            if not create:
                raise IndexStoreError(f"no hash index at {self.display} (no hnn_meta table)")
            cur.execute("BEGIN")
            try:
                # Concurrent CREATE ... IF NOT EXISTS can still collide in the catalog, so
                # creators take turns.
                cur.execute("SELECT pg_advisory_xact_lock(hashtext('hnnframe.index.schema'))")
                if self.schema:
                    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {ident}")
                cur.execute(_PG_SCHEMA)
                self._seed_meta(cur)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        self._check_schema_version(cur)

    def _begin_write(self, cur: Any) -> None:
        cur.execute("BEGIN")
        cur.execute(f"SET LOCAL lock_timeout = '{int(LOCK_TIMEOUT_S)}s'")
        cur.execute("LOCK TABLE hnn_meta IN EXCLUSIVE MODE")

    def _begin_read(self, cur: Any) -> None:
        cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def _insert(self, cur: Any, rec: NewRecord, fingerprint: str, added_at: str) -> int | None:
        cur.execute(
            "INSERT INTO hnn_models (key, name, path, sha256, code, code_bits, bits, fingerprint,"
            " category, label, meta, added_at) VALUES (%s, %s, %s, %s, %s, %s::varbit, %s, %s,"
            " %s, %s, %s::jsonb, %s) ON CONFLICT (key) DO NOTHING RETURNING id",
            (rec.key, rec.name, rec.path, rec.sha256, self._pg.Binary(rec.code),
             _code_bits(rec.code), rec.bits, fingerprint, rec.category, rec.label,
             json.dumps(rec.meta, sort_keys=True), added_at),
        )  # fmt: skip
        row = cur.fetchone()
        return None if row is None else int(row[0])

    def _update_code(self, cur: Any, rid: int, code: bytes, bits: int, fp: str, cat: str) -> None:
        cur.execute(
            "UPDATE hnn_models SET code = %s, code_bits = %s::varbit, bits = %s, fingerprint = %s,"
            " category = %s WHERE id = %s",
            (self._pg.Binary(code), _code_bits(code), bits, fp, cat, rid),
        )

    def _meta_value(self, value: Any) -> dict[str, Any]:
        if isinstance(value, str):
            return json.loads(value)
        return dict(value or {})

    def _size(self, cur: Any) -> int | None:
        cur.execute(
            "SELECT pg_total_relation_size('hnn_models'::regclass)"
            " + pg_total_relation_size('hnn_meta'::regclass)"
        )
        return int(cur.fetchone()[0])

    def _integrity(self, cur: Any) -> list[str]:
        cur.execute("SELECT COUNT(*) FROM hnn_models WHERE length(code_bits) <> bits")
        k = int(cur.fetchone()[0])
        return [f"{k} rows whose bit column differs in length from bits"] if k else []

    def search_sql(
        self, code: bytes, k: int | None, radius: int | None
    ) -> list[tuple[int, IndexRecord]]:
        dist = "bit_count(code_bits # %s::varbit)"
        sql = f"SELECT {_COLUMNS}, {dist} AS distance FROM hnn_models"
        args: list[Any] = [_code_bits(code)]
        if radius is not None:
            sql += f" WHERE {dist} <= %s"
            args += [_code_bits(code), int(radius)]
        sql += " ORDER BY distance, id"
        if k is not None:
            sql += " LIMIT %s"
            args.append(int(k))
        with self.transaction(write=False) as cur:
            cur.execute(sql, args)
            return [(int(r[11]), self._row(r)) for r in cur.fetchall()]
