"""The records part of an index's store: ``hnn_models`` and, for a model whose file carried
weights, its ``hnn_weights`` row and ``hnn_tensors`` digests (the tables are described in
:mod:`hnnframe.index.sql`). A record's weights and its evidence signals' values
(:mod:`~hnnframe.index.signal_store`) are written in the same transaction as the record, and
deleted with it; the binding it is checked against is the metadata part's
(:mod:`~hnnframe.index.meta_store`).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

from hnnframe.errors import IndexStoreError
from hnnframe.evidence import Subject
from hnnframe.index.meta_store import MetaStore
from hnnframe.index.records import AddResult, IndexRecord, NewRecord, WeightInfo
from hnnframe.index.signal_store import SignalStore
from hnnframe.index.sql import COLUMNS, RECORDS, filters, in_chunks, iso, utc_now
from hnnframe.weights.fingerprint import WeightFingerprint, load_threshold

#: A record's rows, deleted in this order: its tensor digests, its weight row, itself.
RECORD_TABLES = (("hnn_tensors", "model_id"), ("hnn_weights", "model_id"), ("hnn_models", "id"))


def _check_new(records: Sequence[NewRecord]) -> int | None:
    """The Q of the records' weight codes (``None`` without weights), after checking that
    every code has its bits and that one add holds one Q of each kind.

    Raises:
        IndexStoreError: A code's length does not match its bits, or Qs differ.
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
    if not wbits:
        return None
    q = next(iter(wbits))
    load_threshold(q)  # a Q with no measured threshold is refused
    return q


class RecordStore(MetaStore, SignalStore):
    """Adding, reading, listing and removing records, with their weights and signal values.

    Statements that take a cursor (``rows_in``, ``delete_records``, ``update_code``) run
    inside a :meth:`~hnnframe.index.connection.Connection.transaction`, so that operations
    written elsewhere (:mod:`hnnframe.index.rehash`, :mod:`hnnframe.index.tiers`) compose
    them into one.
    """

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

    def _row(self, row: Sequence[Any]) -> IndexRecord:
        rid, name, path, sha, code, bits, fp, cat, label, meta, added, structure = row[:12]
        graph_digest, config_digest = row[12:14]
        wfmt, wcode, wbits, wset, wtensors, wparams, wlargest = row[14:21]
        weights = None
        if wfmt is not None:
            weights = WeightInfo(
                wfmt, int(wbits), bytes(wcode), wset, int(wtensors), int(wparams), int(wlargest)
            )
        return IndexRecord(
            id=int(rid),
            name=name,
            path=path,
            sha256=sha,
            code=bytes(code),
            bits=int(bits),
            fingerprint=fp,
            category=cat,
            label=label,
            meta=self._meta_value(meta),
            added_at=iso(added),
            structure=structure,
            weights=weights,
            graph_digest=graph_digest,
            config_digest=config_digest,
        )

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
            self.delete_signal_values(cur, part, marks)
            for table, col in RECORD_TABLES:
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
        wbits = _check_new(records)
        if not records:
            return []
        added_at = utc_now()
        with self.transaction(write=True) as cur:
            self.bind(cur, records[0].bits, fingerprint, checkpoint, wbits, added_at)
            self.ensure_signal_tables(cur)
            return [self._add_one(cur, r, fingerprint, added_at) for r in records]

    def _add_one(self, cur: Any, r: NewRecord, fingerprint: str, added_at: str) -> AddResult:
        """Insert one record with its weights and signal values, unless its key exists."""
        rid = self._insert(cur, r, fingerprint, added_at)
        if rid is None:
            cur.execute(self.q("SELECT id FROM hnn_models WHERE key = ?"), (r.key,))
            return AddResult(int(cur.fetchone()[0]), r.name, r.key, False, r.path)
        info = None
        if r.weights is not None:
            self._insert_weights(cur, rid, r.weights)
            self._insert_tensors(cur, rid, r.weights)
            info = WeightInfo.of(r.weights).to_dict()
        self.insert_signal_values(cur, rid, Subject.of(r, r.weights))
        return AddResult(rid, r.name, r.key, True, r.path, weights=info)

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
