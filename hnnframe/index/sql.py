"""The schema both stores share, and the SQL helpers below :class:`~hnnframe.index.store.Store`.

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

The dialects' ``CREATE TABLE`` statements live in :mod:`hnnframe.index.sqlite` and
:mod:`hnnframe.index.postgres`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

SCHEMA_VERSION = 1
#: Seconds a writer waits for another writer's lock before giving up.
LOCK_TIMEOUT_S = 120.0

#: The ``hnn_models`` columns of an :class:`~hnnframe.index.records.IndexRecord`, in its order.
COLUMNS = "id, name, path, sha256, code, bits, fingerprint, category, label, meta, added_at"

#: ``id -> (code, category)``: the new codes of a rehash.
Updates = dict[int, tuple[bytes, str]]


def utc_now() -> str:
    """The current time, ISO 8601 in UTC to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def iso(value: Any) -> str:
    """A stored timestamp (text in SQLite, ``timestamptz`` in PostgreSQL) as ISO 8601 UTC."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat(timespec="seconds")
    return str(value)


def in_chunks(values: Sequence[Any], size: int = 500) -> Iterator[tuple[list[Any], str]]:
    """``values`` in parts of ``size`` with their ``?`` placeholders, for ``IN (...)`` lists
    that stay under the databases' limits on bound parameters."""
    values = list(values)
    for start in range(0, len(values), size):
        part = values[start : start + size]
        yield part, ", ".join("?" * len(part))
