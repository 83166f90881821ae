"""An index's schema over its life: created whole, checked on open, migrated from older
versions (the tables are described in :mod:`hnnframe.index.sql`).

Each backend keeps its version-1 ``CREATE TABLE`` statements as they were (``BASE_SCHEMA``) and
one list of statements per later version (``MIGRATIONS``). A new index runs them all; an index
of an older version runs the ones it lacks, in one write transaction, when it is opened, so an
index made by an earlier hnnframe opens and keeps working (its records simply have no
weights). Concurrent openers take turns on the index's write lock, and whoever comes second
finds the work done.
"""

from __future__ import annotations

from typing import Any

from hnnframe.errors import IndexStoreError
from hnnframe.index.sql import SCHEMA_VERSION, utc_now
from hnnframe.index.store import Store
from hnnframe.log import get_logger

log = get_logger(__name__)


def create_tables(store: Store, cur: Any, base: list[str]) -> None:
    """Create every table of a new index (inside the creator's transaction, which holds the
    index's write lock) and its first ``hnn_meta`` rows, unless a concurrent creator did."""
    for stmt in base:  # CREATE ... IF NOT EXISTS: harmless where a concurrent creator won
        cur.execute(stmt)
    cur.execute("SELECT COUNT(*) FROM hnn_meta")
    if cur.fetchone()[0]:
        return  # created meanwhile, whole (one transaction); its version is checked next
    for version in sorted(store.migrations):
        for stmt in store.migrations[version]:
            cur.execute(stmt)
    for k, v in {"schema_version": SCHEMA_VERSION, "created_at": utc_now(), "epoch": 0}.items():
        cur.execute(store.q("INSERT INTO hnn_meta (key, value) VALUES (?, ?)"), (k, str(v)))


def schema_version(store: Store, cur: Any) -> int:
    """The index's schema version.

    Raises:
        IndexStoreError: It has none (not an index) or is newer than this hnnframe reads.
    """
    cur.execute("SELECT value FROM hnn_meta WHERE key = 'schema_version'")
    row = cur.fetchone()
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise IndexStoreError(
            f"{store.display} has index schema {version}; this hnnframe reads up to {SCHEMA_VERSION}"
        )
    if version < 1:
        raise IndexStoreError(f"{store.display} is not an hnn index (no schema version)")
    return version


def upgrade_schema(store: Store, cur: Any) -> None:
    """Check the schema version and migrate an older index to :data:`SCHEMA_VERSION` in one
    write transaction (all of the migration or none of it). Records and binding are kept."""
    if schema_version(store, cur) == SCHEMA_VERSION:
        return
    with store.transaction(write=True) as c:
        old = schema_version(store, c)
        for version in range(old + 1, SCHEMA_VERSION + 1):
            for stmt in store.migrations.get(version, []):
                c.execute(stmt)
        store.set_meta(c, "schema_version", SCHEMA_VERSION)
    if old < SCHEMA_VERSION:
        log.info("%s: index schema %d migrated to %d", store.display, old, SCHEMA_VERSION)
