"""The signals part of an index's store: evidence signals that keep values of their own
(:attr:`Signal.columns`), one table per signal, ``hnn_signal_<name>(model_id, <its columns>)``,
created and migrated here for both backends from the signal's declaration, so that a new
signal needs no edit of the store, the schema or the migrations.

The table is created, and a column the signal declares but the table lacks is added, by the
first write after the signal is registered (:meth:`SignalStore.ensure_signal_tables`, inside
``add``'s write transaction); an index written before it simply has no values for the records
it holds, and a read finds none. Rows go with their record
(:meth:`SignalStore.delete_signal_values`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hnnframe.errors import IndexStoreError
from hnnframe.evidence import Signal, Subject, signals, table_of
from hnnframe.index.connection import Connection
from hnnframe.index.sql import in_chunks

#: The prefix of the signals' tables.
PREFIX = "hnn_signal_"


def stored_signals() -> list[Signal]:
    """The registered signals that keep columns of their own."""
    return [s for s in signals() if s.columns]


def _table(s: Signal) -> str:
    bad = [c for c in (s.name, *s.columns) if not c.isidentifier()]
    if bad:
        raise IndexStoreError(f"evidence signal {s.name!r}: {bad[0]!r} is not an identifier")
    return table_of(s.name)


def _columns_of(cur: Any, table: str) -> list[str]:
    cur.execute(f"SELECT * FROM {table} LIMIT 0")
    return [d[0] for d in cur.description]


def _plain(v: Any) -> Any:
    return bytes(v) if isinstance(v, memoryview) else v


def orphan_rows(cur: Any, tables: list[str]) -> list[str]:
    """One line per table of ``tables`` with rows whose ``model_id`` names no record."""
    found = []
    for table in tables:
        cur.execute(
            f"SELECT COUNT(*) FROM {table} t WHERE NOT EXISTS"
            " (SELECT 1 FROM hnn_models m WHERE m.id = t.model_id)"
        )
        k = int(cur.fetchone()[0])
        if k:
            found.append(f"{k} {table} rows whose record is gone")
    return found


class SignalStore(Connection):
    """The tables of the stored evidence signals; statements that take a cursor run inside a
    :meth:`~hnnframe.index.connection.Connection.transaction`."""

    def _signal_tables(self, cur: Any) -> list[str]:
        return sorted(t for t in self.tables(cur) if t.startswith(PREFIX))

    def ensure_signal_tables(self, cur: Any) -> None:
        """Create the table of every stored signal, and add the columns it lacks (inside a
        write transaction)."""
        stored = stored_signals()
        if not stored:
            return
        present = self.tables(cur)
        types = self.column_types
        for s in stored:
            table = _table(s)
            if table not in present:
                cols = ", ".join(f"{c} {types[k]}" for c, k in s.columns.items())
                cur.execute(
                    f"CREATE TABLE IF NOT EXISTS {table} (model_id {types['int']} PRIMARY KEY"
                    f" REFERENCES hnn_models (id) ON DELETE CASCADE, {cols})"
                )
            else:
                have = set(_columns_of(cur, table))
                for c, k in s.columns.items():
                    if c not in have:
                        cur.execute(f"ALTER TABLE {table} ADD COLUMN {c} {types[k]}")
            if s.lookup:
                cur.execute(
                    f"CREATE INDEX IF NOT EXISTS {table}_{s.lookup} ON {table} ({s.lookup})"
                )

    def insert_signal_values(self, cur: Any, rid: int, subject: Subject) -> None:
        """Store record ``rid``'s value of every stored signal that has one."""
        for s in stored_signals():
            value = s.extract(subject)
            if value is None:
                continue
            cols = ", ".join(s.columns)
            marks = ", ".join("?" * (len(s.columns) + 1))
            sql = f"INSERT INTO {_table(s)} (model_id, {cols}) VALUES ({marks})"
            cur.execute(self.q(sql), (rid, *s.to_row(value)))

    def signal_values(
        self, sigs: Sequence[Signal], ids: Sequence[int]
    ) -> dict[int, dict[str, Any]]:
        """``id -> {signal name: value}`` of the stored signals among ``sigs`` (a record
        without a value, or an index without the signal's table, has none)."""
        out: dict[int, dict[str, Any]] = {}
        stored = [s for s in sigs if s.columns]
        if not stored or not ids:
            return out
        with self.transaction(write=False) as cur:
            present = self.tables(cur)
            for s in stored:
                table = _table(s)
                if table not in present:
                    continue
                for part, marks in in_chunks(sorted(ids)):
                    cols = ", ".join(s.columns)
                    sql = f"SELECT model_id, {cols} FROM {table} WHERE model_id IN ({marks})"
                    cur.execute(self.q(sql), part)
                    for row in cur.fetchall():
                        value = s.from_row([_plain(v) for v in row[1:]])
                        out.setdefault(int(row[0]), {})[s.name] = value
        return out

    def delete_signal_values(self, cur: Any, part: Sequence[int], marks: str) -> None:
        """Delete the signal rows of records ``part`` (inside the transaction deleting them)."""
        for table in self._signal_tables(cur):
            cur.execute(self.q(f"DELETE FROM {table} WHERE model_id IN ({marks})"), part)

    def orphan_signal_values(self, cur: Any) -> list[str]:
        """Signal rows whose record is gone (``hnn index stats --verify``)."""
        return orphan_rows(cur, self._signal_tables(cur))
