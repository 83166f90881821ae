"""The connection under every part of an index's store: the dialect hooks each backend
supplies, ``?`` placeholders in the driver's style, and transactions.

Every write is one transaction that first takes the index's write lock (SQLite
``BEGIN IMMEDIATE``; PostgreSQL ``LOCK TABLE hnn_meta IN EXCLUSIVE MODE``), then checks the
binding, then writes. A process killed at any point leaves either all of a write or none of it.
Driver errors become :class:`~hnnframe.errors.IndexStoreError` with the index's name in the
message.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hnnframe.errors import IndexStoreError
from hnnframe.index.sql import joined


class Connection(ABC):
    """A database connection with the dialect's hooks and the transaction logic, written once.

    The parts of the store (:mod:`~hnnframe.index.meta_store`,
    :mod:`~hnnframe.index.record_store`, :mod:`~hnnframe.index.signal_store`) build on it;
    :class:`~hnnframe.index.sqlite.SQLiteStore` and :class:`~hnnframe.index.postgres.
    PostgresStore` supply the connection, the dialect and the driver's errors.
    """

    backend: str = ""
    #: Whether the database computes Hamming distances (PostgreSQL's ``search_sql``).
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

    @property
    @abstractmethod
    def _errors(self) -> tuple[type[BaseException], ...]: ...

    @abstractmethod
    def _begin_write(self, cur: Any) -> None: ...

    @abstractmethod
    def _begin_read(self, cur: Any) -> None: ...

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

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            try:
                self._conn.close()
            except self._errors:
                pass
            self._conn = None
