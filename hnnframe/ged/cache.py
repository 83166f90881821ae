"""An on-disk cache of GED values, keyed by graph content and method (SQLite, WAL mode).

A value is stored under ``(method key, h1, h2)`` where ``h1 <= h2`` are the
:meth:`~hnnframe.ir.OpGraph.content_hash` values of the two graphs, so a pair is found
whatever the order or the dataset it comes from, and a change of method settings (or of a
method's ``version``) never reuses stale values.

Durability and concurrency come from SQLite: the database runs in WAL mode and each
:meth:`GEDCache.put_many` is one committed transaction, so a process killed at any point loses
at most the batch it was writing, never one already committed. Several processes may read and
write the same file at once; a writer waits (up to ``timeout`` seconds) for another's
transaction to finish, and inserting a pair that is already there is a no-op.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from hnnframe.errors import HnnError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ged (
    method TEXT NOT NULL,
    h1 TEXT NOT NULL,
    h2 TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (method, h1, h2)
) WITHOUT ROWID
"""

Key = tuple[str, str]


def pair_key(h1: str, h2: str) -> Key:
    """The order-normalised key of a pair of content hashes."""
    return (h1, h2) if h1 <= h2 else (h2, h1)


class GEDCache:
    """GED values in an SQLite file (see the module docstring).

    Args:
        path: the SQLite file; an existing directory means ``path/ged.sqlite``. Parent
            directories are created.
        timeout: seconds to wait for another process's write lock.

    Example:
        >>> with GEDCache("/tmp/ged.sqlite") as c:  # doctest: +SKIP
        ...     c.put_many("bipartite@v1", [(("ab", "cd"), 3.0)])
        ...     c.get_many("bipartite@v1")
        {('ab', 'cd'): 3.0}
    """

    def __init__(self, path: str | os.PathLike[str], timeout: float = 60.0) -> None:
        p = Path(path)
        if p.is_dir():
            p = p / "ged.sqlite"
        p.parent.mkdir(parents=True, exist_ok=True)
        self.path = p
        try:
            self._conn = sqlite3.connect(str(p), timeout=timeout, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed transaction survives a killed process.
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise HnnError(f"GED cache {p} is not usable: {e}") from None

    def get_many(self, method: str, keys: Iterable[Key] | None = None) -> dict[Key, float]:
        """Cached values of ``method``, for ``keys`` only if given (keys as :func:`pair_key`)."""
        rows = self._conn.execute("SELECT h1, h2, value FROM ged WHERE method = ?", (method,))
        found = {(h1, h2): float(v) for h1, h2, v in rows}
        if keys is None:
            return found
        return {k: found[k] for k in keys if k in found}

    def put_many(self, method: str, items: Iterable[tuple[Key, float]]) -> int:
        """Store ``((h1, h2), value)`` items in one committed transaction; returns the count."""
        rows = [(method, *pair_key(*k), float(v)) for k, v in items]
        if not rows:
            return 0
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            cur.executemany("INSERT OR IGNORE INTO ged VALUES (?, ?, ?, ?)", rows)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return len(rows)

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM ged").fetchone()[0])

    def methods(self) -> dict[str, int]:
        """Number of cached pairs per method key."""
        rows = self._conn.execute("SELECT method, COUNT(*) FROM ged GROUP BY method")
        return {m: int(c) for m, c in rows}

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> GEDCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GEDCache({str(self.path)!r})"
