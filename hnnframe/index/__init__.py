"""Model hash index: store model hash codes and find suspected copies by Hamming distance.

Beside the structural code of a model whose file carries weights it keeps the weight tier
(:mod:`hnnframe.weights`): exact tensor digests and a weight perceptual code, so ``check``
says which tier an upload matches: exact file, exact tensors, weight match, same architecture
(the digest of the canonical graph, or of a config's architecture fields) or structure only.

SQLite by default (one file, WAL mode, every write one transaction); a ``postgresql://`` URL
gives a shared deployment with the same schema and behaviour, computing distances in SQL with
``bit_count(a # b)``. An index is bound to the checkpoint whose codes it holds; codes from
another checkpoint or Q are refused.

Example::

    import hnnframe.index
    from hnnframe.hashing import Hasher

    hasher = Hasher.from_checkpoint("model.pt")
    with hnnframe.index.open("hashes.db") as idx:
        idx.add(hasher.hash_many(["a.onnx", "b.onnx"]), fingerprint=hasher.fingerprint,
                checkpoint="model.pt", label="zoo")
        [upload] = hasher.hash_many(["upload.onnx"])
        verdict = idx.check(upload, fingerprint=hasher.fingerprint)
        print(verdict.clean, [(m.distance, m.record.name) for m in verdict.matches])
        # files with weights: add_models stores them; check_models reads the upload's
        idx.add_models(["protected.onnx"], hasher, checkpoint="model.pt")
        [(_, verdict)] = idx.check_models(["upload.onnx"], hasher)
        print(verdict.tier, [(c.tier, c.record.name) for c in verdict.candidates])

See docs/index-guide.md.
"""

from __future__ import annotations

import os

from hnnframe.errors import IndexStoreError
from hnnframe.index.core import HashIndex, default_radius
from hnnframe.index.postgres import PostgresStore
from hnnframe.index.records import (
    AddResult,
    Binding,
    HasherLike,
    HashLike,
    IndexRecord,
    Match,
    WeightInfo,
)
from hnnframe.index.scan import HammingScanner
from hnnframe.index.sqlite import SQLiteStore
from hnnframe.index.store import Store
from hnnframe.index.verdict import FAIL_ON, TIERS, Candidate, CheckResult, WeightComparison

__all__ = [
    "FAIL_ON",
    "TIERS",
    "AddResult",
    "Binding",
    "Candidate",
    "CheckResult",
    "HammingScanner",
    "HashIndex",
    "HashLike",
    "HasherLike",
    "IndexRecord",
    "Match",
    "WeightComparison",
    "WeightInfo",
    "default_radius",
    "is_postgres_url",
    "open",
    "open_store",
]


def is_postgres_url(url: str | os.PathLike) -> bool:
    """Whether ``url`` names a PostgreSQL database."""
    return str(url).startswith(("postgresql://", "postgres://"))


def open_store(url: str | os.PathLike, create: bool = True) -> Store:
    """The storage backend for ``url`` (see :func:`open`)."""
    s = os.fspath(url)
    if is_postgres_url(s):
        return PostgresStore(s, create=create)
    if s.startswith("sqlite:"):
        s = s.removeprefix("sqlite:")
        s = s.removeprefix("//") if s.startswith("///") else s
    if not s:
        raise IndexStoreError("empty index path")
    return SQLiteStore(s, create=create)


def open(url: str | os.PathLike, *, create: bool = True, search: str = "auto") -> HashIndex:  # noqa: A001
    """Open (or create) a hash index.

    Args:
        url: A file path or ``sqlite:///path`` for SQLite; ``postgresql://user:pw@host/db`` for
            PostgreSQL (``?schema=NAME`` keeps the tables in that schema).
        create: Create the index when it does not exist; otherwise that is an error.
        search: ``"auto"``, ``"memory"`` or ``"sql"`` (see :class:`HashIndex`).

    Returns:
        A :class:`HashIndex`; close it, or use it as a context manager.

    Raises:
        IndexStoreError: The file is not an index, is corrupted, or the server is unreachable.
    """
    store = open_store(url, create=create)
    try:
        return HashIndex(store, search=search)
    except BaseException:
        store.close()
        raise
