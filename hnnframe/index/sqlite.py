"""An index in one SQLite file (the default store): WAL mode, ``BEGIN IMMEDIATE`` writes.

Readers never block the writer; writers queue for up to :data:`~hnnframe.index.sql.LOCK_TIMEOUT_S`
seconds. A file that is not a SQLite database, a SQLite database of another application and a
damaged index are told apart in the error message.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from hnnframe.errors import IndexStoreError
from hnnframe.index.records import NewRecord
from hnnframe.index.schema import SCHEMA_VERSION, create_tables, schema_version, upgrade_schema
from hnnframe.index.sql import LOCK_TIMEOUT_S
from hnnframe.index.store import Store
from hnnframe.weights.fingerprint import WeightFingerprint

SQLITE_MAGIC = b"SQLite format 3\x00"
#: The version-1 schema, never edited: later versions are :data:`MIGRATIONS` applied to it.
BASE_SCHEMA = """
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
#: ``version: statements`` that bring an index of ``version - 1`` to ``version``.
MIGRATIONS: dict[int, list[str]] = {
    2: [
        "ALTER TABLE hnn_models ADD COLUMN structure TEXT",
        """CREATE TABLE IF NOT EXISTS hnn_weights (
            model_id   INTEGER PRIMARY KEY REFERENCES hnn_models (id) ON DELETE CASCADE,
            format     TEXT    NOT NULL,
            code       BLOB    NOT NULL,
            bits       INTEGER NOT NULL,
            tensor_set TEXT    NOT NULL,
            tensors    INTEGER NOT NULL,
            params     INTEGER NOT NULL,
            largest    INTEGER NOT NULL,
            CHECK (length(code) * 8 = bits)
        )""",
        "CREATE INDEX IF NOT EXISTS hnn_weights_tensor_set ON hnn_weights (tensor_set)",
        """CREATE TABLE IF NOT EXISTS hnn_tensors (
            model_id INTEGER NOT NULL REFERENCES hnn_models (id) ON DELETE CASCADE,
            digest   TEXT    NOT NULL,
            numel    INTEGER NOT NULL,
            copies   INTEGER NOT NULL,
            PRIMARY KEY (model_id, digest)
        )""",
        "CREATE INDEX IF NOT EXISTS hnn_tensors_digest ON hnn_tensors (digest)",
    ],
    # The exact-architecture tier: digests of the canonical graph and of a config's
    # architecture fields (NULL in older records: they never match on that tier).
    3: [
        "ALTER TABLE hnn_models ADD COLUMN graph_digest TEXT",
        "ALTER TABLE hnn_models ADD COLUMN config_digest TEXT",
        "CREATE INDEX IF NOT EXISTS hnn_models_graph_digest ON hnn_models (graph_digest)",
        "CREATE INDEX IF NOT EXISTS hnn_models_config_digest ON hnn_models (config_digest)",
    ],
}


class SQLiteStore(Store):
    """An index in one SQLite file, in WAL mode (readers never block the writer).

    Args:
        path: The database file.
        create: Create the file and schema when missing; otherwise a missing file is an error.
    """

    backend = "sqlite"
    migrations = MIGRATIONS
    column_types = {"text": "TEXT", "int": "INTEGER", "real": "REAL", "bytes": "BLOB"}

    def __init__(self, path: str | os.PathLike, create: bool = True) -> None:
        self.path = Path(path)
        super().__init__(str(self.path))
        self._check_file(create)
        # An index in a folder (or a file) this process may not write is opened read-only:
        # stats, list, search and check still work, and a write says why it cannot.
        self.read_only = self.path.exists() and not (
            os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK)
        )
        try:
            self._conn = sqlite3.connect(
                self._uri(),
                timeout=LOCK_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,
                uri=True,
            )
            self._conn.execute(f"PRAGMA busy_timeout = {int(LOCK_TIMEOUT_S * 1000)}")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._init_schema(create)
        except sqlite3.Error as e:
            self.close()
            raise self._not_index(e) from e
        except IndexStoreError:
            self.close()
            raise

    def _uri(self) -> str:
        from urllib.parse import quote

        uri = "file:" + quote(str(self.path.absolute()))
        if not self.read_only:
            return uri
        # WAL needs its -shm file, which a read-only folder cannot hold unless it is there
        # already; no writer can use such a folder either, so the file is read as immutable.
        shm = Path(f"{self.path}-shm")
        return uri + ("?mode=ro" if shm.exists() else "?immutable=1")

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
        if "readonly" in msg or self.read_only:
            msg += (
                " (the index is read-only here: its file or folder is not writable; stats, "
                "list, search and check work, add and remove need write access)"
            )
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
                create_tables(self, cur, list(filter(str.strip, BASE_SCHEMA.split(";"))))
                cur.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    cur.execute("ROLLBACK")
                raise
        elif self.read_only:
            found = schema_version(self, cur)
            if found != SCHEMA_VERSION:  # migrating would write
                raise IndexStoreError(
                    f"{self.display} has schema {found}, this hnnframe reads {SCHEMA_VERSION}; "
                    "it is read-only here, so it cannot be migrated (open it once with write "
                    "access)"
                )
            return
        else:
            mode = cur.execute("PRAGMA journal_mode").fetchone()[0]
            if mode != "wal":
                self._set_wal(cur)
        upgrade_schema(self, cur)

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
            " label, meta, added_at, structure, graph_digest, config_digest) VALUES (?, ?, ?, ?,"
            " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING id",
            (
                rec.key,
                rec.name,
                rec.path,
                rec.sha256,
                rec.code,
                rec.bits,
                fingerprint,
                rec.category,
                rec.label,
                json.dumps(rec.meta, sort_keys=True),
                added_at,
                rec.structure,
                rec.graph_digest,
                rec.config_digest,
            ),
        )
        row = cur.fetchone()
        return None if row is None else int(row[0])

    def _insert_weights(self, cur: Any, rid: int, w: WeightFingerprint) -> None:
        cur.execute(
            "INSERT INTO hnn_weights (model_id, format, code, bits, tensor_set, tensors, params,"
            " largest) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (rid, w.format, w.code, w.bits, w.tensor_set, w.tensors, w.params, w.largest),
        )

    def update_code(self, cur: Any, rid: int, code: bytes, bits: int, fp: str, cat: str) -> None:
        cur.execute(
            "UPDATE hnn_models SET code = ?, bits = ?, fingerprint = ?, category = ? WHERE id = ?",
            (code, bits, fp, cat, rid),
        )

    def _meta_value(self, value: Any) -> dict[str, Any]:
        return json.loads(value) if value else {}

    def tables(self, cur: Any) -> set[str]:
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {r[0] for r in cur.fetchall()}

    def storage_bytes(self, cur: Any) -> int | None:
        return sum(
            os.path.getsize(p) for p in (self.path, Path(f"{self.path}-wal")) if os.path.exists(p)
        )

    def integrity_problems(self, cur: Any) -> list[str]:
        rows = [r[0] for r in cur.execute("PRAGMA integrity_check").fetchall()]
        return [] if rows == ["ok"] else [f"sqlite integrity_check: {r}" for r in rows]
