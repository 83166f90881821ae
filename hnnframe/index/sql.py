"""The schema both stores share, and the SQL helpers below :class:`~hnnframe.index.store.Store`.

Four tables (prefixed ``hnn_`` so an index can share a PostgreSQL database with other data):

``hnn_meta(key, value)``
    ``schema_version``, ``created_at``, the binding (``bits``, ``fingerprint``, ``checkpoint``;
    ``weight_bits``, the Q of the weight codes, from the first record with weights) and
    ``epoch``, a counter bumped by every remove and rehash so that an in-memory code array
    knows when it must reload rather than only append.
``hnn_models``
    One row per model: ``id``, ``key`` (unique: the file's sha256, or ``uri:PATH``), ``name``,
    ``path``, ``sha256``, ``code``, ``bits``, ``fingerprint``, ``category``, ``label``,
    ``meta`` (JSON), ``added_at`` and ``structure`` (schema 2: the source the structural code
    was computed from when it is not ``path``, e.g. the ONNX or ``config.json`` of a
    safetensors file); ``graph_digest`` and ``config_digest`` (schema 3, both indexed: the
    digests of the model's canonical graph and of a config source's architecture fields, which
    the ``same architecture`` tier looks up exactly; ``NULL`` in records added before, until
    ``hnn index rehash``). PostgreSQL also keeps the code as ``code_bits bit varying`` (length
    checked against ``bits``) so that ``bit_count(code_bits # query)`` computes the Hamming
    distance in SQL.
``hnn_weights`` (schema 2)
    At most one row per model whose file carried weights (:mod:`hnnframe.weights`):
    ``model_id``, the weight file's ``format``, the weight perceptual ``code`` and its
    ``bits``, ``tensor_set`` (one digest of all tensor digests, indexed), ``tensors``,
    ``params`` and ``largest``; in PostgreSQL ``code_bits`` as for structural codes.
``hnn_tensors`` (schema 2)
    The model's exact tensor digests, one row per distinct digest: ``model_id``, ``digest``
    (indexed, for exact look-ups), ``numel`` and ``copies`` (a tensor stored twice, as tied
    weights are, counts twice in the share of shared weights).

A model without weights (every weight-stripped file) has no row in the last two tables. The
dialects' ``CREATE TABLE`` statements live in :mod:`hnnframe.index.sqlite` and
:mod:`hnnframe.index.postgres`: the version-1 schema as it was, then one migration per later
version, so an index made by an older hnnframe is brought up to date when it is opened.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

SCHEMA_VERSION = 3
#: Seconds a writer waits for another writer's lock before giving up.
LOCK_TIMEOUT_S = 120.0

#: What a record query reads: the model's row and, when it has one, its weight row.
RECORDS = "hnn_models m LEFT JOIN hnn_weights w ON w.model_id = m.id"
#: The columns of an :class:`~hnnframe.index.records.IndexRecord`, in the order ``Store._row``
#: reads them (the model's, then its weight row's, NULL for a model without weights).
COLUMNS = (
    "m.id, m.name, m.path, m.sha256, m.code, m.bits, m.fingerprint, m.category, m.label, m.meta,"
    " m.added_at, m.structure, m.graph_digest, m.config_digest, w.format, w.code, w.bits,"
    " w.tensor_set, w.tensors, w.params, w.largest"
)
N_COLUMNS = 21

#: ``id -> (code, category, graph_digest, config_digest)``: the new codes of a rehash.
Updates = dict[int, tuple[bytes, str, str | None, str | None]]


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


def joined(e: BaseException) -> str:
    """A driver's message on one line (PostgreSQL's span two or three: the error, a detail,
    a hint), so that every error stays one line at the CLI."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return "; ".join(lines) or type(e).__name__


def filters(label: str | None, category: str | None) -> tuple[str, list[Any]]:
    """The ``WHERE`` clause (and its arguments) of a record listing by label and category."""
    conds, args = [], []
    if label is not None:
        conds.append("m.label = ?")
        args.append(label)
    if category is not None:
        conds.append("m.category = ?")
        args.append(category)
    return (" WHERE " + " AND ".join(conds) if conds else ""), args
