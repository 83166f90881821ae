"""Hamming search of an index's two kinds of code: structural codes (``hnn_models``) and
weight codes (``hnn_weights``), in SQL on PostgreSQL (``bit_count(code_bits # query)``) or
over in-memory copies that follow the database (:mod:`hnnframe.index.mirror`)."""

from __future__ import annotations

from hnnframe.errors import IndexStoreError
from hnnframe.index.mirror import CodeMirror
from hnnframe.index.records import Binding, HashLike, Match
from hnnframe.index.store import Store

#: A query: a hash result, packed code bytes, or a code in hex.
Query = HashLike | bytes | str


def query_code(store: Store, query: Query, fingerprint: str | None) -> tuple[bytes, Binding]:
    """A query's packed code, checked against the index's binding (and the binding).

    Raises:
        IndexStoreError: Not a code, or one of another checkpoint or Q.
    """
    if isinstance(query, (bytes, bytearray, memoryview)):
        code = bytes(query)
    elif isinstance(query, str):
        try:
            code = bytes.fromhex(query.removeprefix("hex:"))
        except ValueError as e:
            raise IndexStoreError(f"{query!r} is not a hex code") from e
    elif hasattr(query, "code"):
        code = bytes(query.code)
        if int(getattr(query, "bits", len(code) * 8)) != len(code) * 8:
            raise IndexStoreError("the query's code length does not match its bits")
    else:
        raise TypeError(f"cannot search with a {type(query).__name__}")
    b = store.binding()
    if not code:
        raise IndexStoreError("empty query code")
    store.check_binding(b, len(code) * 8, fingerprint)
    return code, b


def _check_args(k: int | None, radius: int | None) -> None:
    if k is not None and k < 0:
        raise IndexStoreError(f"k must be >= 0, not {k}")
    if k is None and radius is None:
        raise IndexStoreError("give k, radius or both")


class Searcher:
    """Exact top-k and radius search of both kinds of code of ``store``.

    Args:
        store: The index's store.
        use_sql: Compute distances in the database (PostgreSQL) instead of in memory.
    """

    def __init__(self, store: Store, use_sql: bool) -> None:
        self.store, self.use_sql = store, use_sql
        self.structure = CodeMirror(store, "structure")
        self.weights = CodeMirror(store, "weights")

    @property
    def nbytes(self) -> int | None:
        """Bytes of codes held in memory (``None`` before the first in-memory search)."""
        if self.structure.scanner is None and self.weights.scanner is None:
            return None
        return self.structure.nbytes + self.weights.nbytes

    def reset(self) -> None:
        """Drop the in-memory codes (after a rehash, or on close)."""
        self.structure.reset()
        self.weights.reset()

    def codes(self, code: bytes, k: int | None, radius: int | None) -> list[Match]:
        """Stored models by structural distance to ``code`` (already checked against the
        binding), sorted by distance, then id."""
        _check_args(k, radius)
        if self.use_sql:
            return [Match(d, r) for d, r in self.store.search_sql(code, k, radius)]
        sc = self.structure.sync()
        if sc is None:
            return []
        ids, dists = sc.search(code, k=k, radius=radius)
        recs = self.store.get(ids.tolist())
        # A row removed between the scan and the fetch is skipped.
        return [
            Match(int(d), recs[int(i)]) for i, d in zip(ids, dists, strict=True) if int(i) in recs
        ]

    def weight_hits(self, code: bytes, k: int | None, radius: int | None) -> list[tuple[int, int]]:
        """``(distance, record id)`` of stored weight codes nearest to ``code``, sorted by
        distance, then id."""
        _check_args(k, radius)
        if self.use_sql:
            return self.store.search_weights_sql(code, k, radius)
        sc = self.weights.sync()
        if sc is None:
            return []
        ids, dists = sc.search(code, k=k, radius=radius)
        return [(int(d), int(i)) for i, d in zip(ids, dists, strict=True)]

    def weight_matches(self, code: bytes, k: int | None, radius: int | None) -> list[Match]:
        """:meth:`weight_hits` with their records (``distance`` between weight codes)."""
        q = self.store.binding().weight_bits
        if q is None:
            return []
        if len(code) * 8 != q:
            raise IndexStoreError(
                f"{self.store.display} holds {q}-bit weight codes; got a {len(code) * 8}-bit one"
            )
        hits = self.weight_hits(code, k, radius)
        recs = self.store.get([i for _, i in hits])
        return [Match(d, recs[i]) for d, i in hits if i in recs]
