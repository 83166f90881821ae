"""An index in a PostgreSQL database, shared by many processes and machines.

The code is stored twice: ``code bytea`` as in SQLite, and ``code_bits bit varying`` (its length
tied to ``bits`` by a ``CHECK``), so that ``bit_count(code_bits # query)`` computes Hamming
distances in SQL; weight codes (``hnn_weights``) are stored and searched the same way.
Writers take ``LOCK TABLE hnn_meta IN EXCLUSIVE MODE``; reads are ``REPEATABLE READ``
snapshots.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from hnnframe.errors import IndexStoreError
from hnnframe.index.records import IndexRecord, NewRecord
from hnnframe.index.schema import create_tables, upgrade_schema
from hnnframe.index.sql import COLUMNS, LOCK_TIMEOUT_S, N_COLUMNS, RECORDS, joined
from hnnframe.index.store import Store
from hnnframe.weights.fingerprint import WeightFingerprint

#: The version-1 schema, never edited: later versions are :data:`MIGRATIONS` applied to it.
BASE_SCHEMA = """
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
#: ``version: statements`` that bring an index of ``version - 1`` to ``version``.
MIGRATIONS: dict[int, list[str]] = {
    2: [
        "ALTER TABLE hnn_models ADD COLUMN IF NOT EXISTS structure TEXT",
        """CREATE TABLE IF NOT EXISTS hnn_weights (
            model_id   BIGINT      PRIMARY KEY REFERENCES hnn_models (id) ON DELETE CASCADE,
            format     TEXT        NOT NULL,
            code       BYTEA       NOT NULL,
            code_bits  BIT VARYING NOT NULL,
            bits       INTEGER     NOT NULL,
            tensor_set TEXT        NOT NULL,
            tensors    INTEGER     NOT NULL,
            params     BIGINT      NOT NULL,
            largest    BIGINT      NOT NULL,
            CHECK (length(code) * 8 = bits AND length(code_bits) = bits)
        )""",
        "CREATE INDEX IF NOT EXISTS hnn_weights_tensor_set ON hnn_weights (tensor_set)",
        """CREATE TABLE IF NOT EXISTS hnn_tensors (
            model_id BIGINT  NOT NULL REFERENCES hnn_models (id) ON DELETE CASCADE,
            digest   TEXT    NOT NULL,
            numel    BIGINT  NOT NULL,
            copies   INTEGER NOT NULL,
            PRIMARY KEY (model_id, digest)
        )""",
        "CREATE INDEX IF NOT EXISTS hnn_tensors_digest ON hnn_tensors (digest)",
    ],
    # The exact-architecture tier: digests of the canonical graph and of a config's
    # architecture fields (NULL in older records: they never match on that tier).
    3: [
        "ALTER TABLE hnn_models ADD COLUMN IF NOT EXISTS graph_digest TEXT",
        "ALTER TABLE hnn_models ADD COLUMN IF NOT EXISTS config_digest TEXT",
        "CREATE INDEX IF NOT EXISTS hnn_models_graph_digest ON hnn_models (graph_digest)",
        "CREATE INDEX IF NOT EXISTS hnn_models_config_digest ON hnn_models (config_digest)",
    ],
}


def _code_bits(code: bytes) -> str:
    """A packed code as a ``'0101...'`` string, PostgreSQL's bit-string input."""
    return "".join(format(b, "08b") for b in code)


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
    migrations = MIGRATIONS
    column_types = {"text": "TEXT", "int": "BIGINT", "real": "DOUBLE PRECISION", "bytes": "BYTEA"}

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
            raise IndexStoreError(f"cannot use PostgreSQL index {self.display}: {joined(e)}") from e
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
                create_tables(self, cur, [BASE_SCHEMA])
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        upgrade_schema(self, cur)

    def _begin_write(self, cur: Any) -> None:
        cur.execute("BEGIN")
        cur.execute(f"SET LOCAL lock_timeout = '{int(LOCK_TIMEOUT_S)}s'")
        cur.execute("LOCK TABLE hnn_meta IN EXCLUSIVE MODE")

    def _begin_read(self, cur: Any) -> None:
        cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def _insert(self, cur: Any, rec: NewRecord, fingerprint: str, added_at: str) -> int | None:
        cur.execute(
            "INSERT INTO hnn_models (key, name, path, sha256, code, code_bits, bits, fingerprint,"
            " category, label, meta, added_at, structure, graph_digest, config_digest) VALUES"
            " (%s, %s, %s, %s, %s, %s::varbit, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s)"
            " ON CONFLICT (key) DO NOTHING RETURNING id",
            (
                rec.key,
                rec.name,
                rec.path,
                rec.sha256,
                self._pg.Binary(rec.code),
                _code_bits(rec.code),
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
            "INSERT INTO hnn_weights (model_id, format, code, code_bits, bits, tensor_set,"
            " tensors, params, largest) VALUES (%s, %s, %s, %s::varbit, %s, %s, %s, %s, %s)",
            (
                rid,
                w.format,
                self._pg.Binary(w.code),
                _code_bits(w.code),
                w.bits,
                w.tensor_set,
                w.tensors,
                w.params,
                w.largest,
            ),
        )

    def update_code(self, cur: Any, rid: int, code: bytes, bits: int, fp: str, cat: str) -> None:
        cur.execute(
            "UPDATE hnn_models SET code = %s, code_bits = %s::varbit, bits = %s, fingerprint = %s,"
            " category = %s WHERE id = %s",
            (self._pg.Binary(code), _code_bits(code), bits, fp, cat, rid),
        )

    def _meta_value(self, value: Any) -> dict[str, Any]:
        if isinstance(value, str):
            return json.loads(value)
        return dict(value or {})

    def tables(self, cur: Any) -> set[str]:
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        return {r[0] for r in cur.fetchall()}

    def storage_bytes(self, cur: Any) -> int | None:
        # every table of the index, the evidence signals' own included
        tables = sorted(t for t in self.tables(cur) if t.startswith("hnn_"))
        sizes = " + ".join(f"pg_total_relation_size('{t}'::regclass)" for t in tables)
        cur.execute(f"SELECT {sizes}")
        return int(cur.fetchone()[0])

    def integrity_problems(self, cur: Any) -> list[str]:
        out = []
        for table in ("hnn_models", "hnn_weights"):
            cur.execute(f"SELECT COUNT(*) FROM {table} WHERE length(code_bits) <> bits")
            k = int(cur.fetchone()[0])
            if k:
                out.append(f"{k} {table} rows whose bit column differs in length from bits")
        return out

    def search_sql(
        self, code: bytes, k: int | None, radius: int | None
    ) -> list[tuple[int, IndexRecord]]:
        dist = "bit_count(m.code_bits # %s::varbit)"
        sql = f"SELECT {COLUMNS}, {dist} AS distance FROM {RECORDS}"
        args: list[Any] = [_code_bits(code)]
        if radius is not None:
            sql += f" WHERE {dist} <= %s"
            args += [_code_bits(code), int(radius)]
        sql += " ORDER BY distance, m.id"
        if k is not None:
            sql += " LIMIT %s"
            args.append(int(k))
        with self.transaction(write=False) as cur:
            cur.execute(sql, args)
            return [(int(r[N_COLUMNS]), self._row(r)) for r in cur.fetchall()]

    def search_weights_sql(
        self, code: bytes, k: int | None, radius: int | None
    ) -> list[tuple[int, int]]:
        dist = "bit_count(code_bits # %s::varbit)"
        sql = f"SELECT model_id, {dist} AS distance FROM hnn_weights WHERE bits = %s"
        args: list[Any] = [_code_bits(code), len(code) * 8]
        if radius is not None:
            sql += f" AND {dist} <= %s"
            args += [_code_bits(code), int(radius)]
        sql += " ORDER BY distance, model_id"
        if k is not None:
            sql += " LIMIT %s"
            args.append(int(k))
        with self.transaction(write=False) as cur:
            cur.execute(sql, args)
            return [(int(d), int(i)) for i, d in cur.fetchall()]
