"""The storage of an index: one set of operations and transactions on SQLite and PostgreSQL.

:class:`Store` is made of three parts, each a module named after its job, over one
connection (:mod:`~hnnframe.index.connection`: the dialect hooks and transactions):

* records (:mod:`~hnnframe.index.record_store`): ``hnn_models`` with each record's weight row
  and tensor digests, added, read, listed and removed;
* signals (:mod:`~hnnframe.index.signal_store`): the tables of evidence signals that keep
  values of their own;
* metadata (:mod:`~hnnframe.index.meta_store`): ``hnn_meta``, the binding to a checkpoint and
  the epoch.

:class:`~hnnframe.index.sqlite.SQLiteStore` and :class:`~hnnframe.index.postgres.PostgresStore`
supply the connection, the dialect and the driver's errors (the schema is described in
:mod:`hnnframe.index.sql`). Operations built on these statements live beside it:
:mod:`~hnnframe.index.schema` (creating and migrating), :mod:`~hnnframe.index.mirror`
(in-memory codes), :mod:`~hnnframe.index.tiers` (the look-ups of ``check``),
:mod:`~hnnframe.index.rehash` and :mod:`~hnnframe.index.report`.
"""

from __future__ import annotations

from hnnframe.index.record_store import RecordStore
from hnnframe.index.records import IndexRecord


class Store(RecordStore):
    """Records, signals and metadata of one index (see the module docstring); a backend that
    computes distances in the database (``sql_search``) also answers the two searches."""

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
