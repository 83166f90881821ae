"""Exact Hamming search over packed binary codes held in memory.

Codes arrive as ``np.packbits`` bytes (``bits // 8`` of them). :class:`HammingScanner` keeps
them as ``uint64`` words, padded with zero bytes to whole words (zero padding XORs to zero,
so distances are unchanged); memory is the size of the codes plus 4 bytes of id per code.

A query is a chunked scan: XOR and ``np.bitwise_count`` (one ``VPOPCNTQ`` per word on a CPU
that has it) over a block of rows, word by word, then a top-k selection that keeps a running threshold, so
after the first block only rows closer than the current k-th best are looked at. Ties are
broken by id, the same order as ``ORDER BY distance, id`` in SQL. ``benchmarks/bench_index.py``
compares this with faiss ``IndexBinaryFlat``/``IndexBinaryHash`` and a plain
``unpackbits``-and-sum scan; the figures are in ``docs/bench_index.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hnnframe.codes import bitwise_count, check_bits, pack_words, words_per_code
from hnnframe.errors import IndexStoreError

#: Rows per block: 64k rows are 512 KB per code word, so a block and its distances stay in L2
#: (measured: 1M 64-bit codes 1.1 ms per query with 64k rows, 1.5 ms with 256k, 3.9 ms with 1M).
CHUNK_ROWS = 1 << 16


def _smallest(d: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` smallest values of ``d``, ties to the lower position, sorted.

    Distances are small integers, so instead of a partial sort this finds the k-th smallest
    value by bisection on ``count_nonzero(d <= t)`` (a few passes over ``d``) and then takes
    every position below it plus the first positions equal to it.
    """
    if k >= d.shape[0]:
        return np.argsort(d, kind="stable")
    lo, hi = int(d.min()), int(d.max())
    while lo < hi:  # smallest t with count(d <= t) >= k
        mid = (lo + hi) // 2
        if np.count_nonzero(d <= mid) >= k:
            hi = mid
        else:
            lo = mid + 1
    below = np.flatnonzero(d < lo)
    at = np.flatnonzero(d == lo)[: k - below.shape[0]]
    pos = np.concatenate([below, at])
    return pos[np.argsort(d[pos], kind="stable")]


class HammingScanner:
    """An in-memory array of packed codes with exact top-k and radius Hamming search.

    Codes are held word-major: word ``j`` of every code lies in one contiguous ``uint64`` row,
    so each XOR and popcount runs over contiguous memory whatever Q is. Ids are ``uint32``
    until one exceeds that range, then ``int64``.

    Args:
        bits: Code length Q (a multiple of 8).
        chunk_rows: Rows scanned per block.
    """

    def __init__(self, bits: int, chunk_rows: int = CHUNK_ROWS) -> None:
        self.bits = check_bits(bits, "code length", IndexStoreError)
        self.words = words_per_code(bits)
        self.chunk_rows = chunk_rows
        self._cols = np.empty((self.words, 0), dtype=np.uint64)
        self._ids = np.empty(0, dtype=np.uint32)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        """Bytes held for codes and ids (spare capacity included)."""
        return self._cols.nbytes + self._ids.nbytes

    @property
    def ids(self) -> np.ndarray:
        """The ids, in the order they were added (a view)."""
        return self._ids[: self._n]

    @property
    def max_id(self) -> int:
        """The largest id held (ids are increasing, so the last one); 0 when empty."""
        return int(self._ids[self._n - 1]) if self._n else 0

    def add(self, ids: np.ndarray | Sequence[int], codes: Sequence[bytes] | np.ndarray) -> None:
        """Append codes. Ids must be increasing, and larger than every id already held.

        The arrays grow geometrically, so adding a few rows at a time stays cheap.

        Args:
            ids: One id per code.
            codes: Packed codes (``bits // 8`` bytes each), or an ``(n, bits // 8)`` uint8 array.
        """
        ids = np.asarray(ids, dtype=np.int64)
        words = pack_words(codes, self.bits, IndexStoreError)
        if words.shape[0] != ids.shape[0]:
            raise ValueError("ids and codes differ in length")
        if ids.shape[0] == 0:
            return
        if np.any(np.diff(ids) <= 0) or (self._n and ids[0] <= int(self._ids[self._n - 1])):
            raise ValueError("ids must be increasing")  # tie order relies on it
        if ids[0] < 0:
            raise ValueError("ids must be >= 0")
        id_dtype = self._ids.dtype if ids[-1] <= np.iinfo(self._ids.dtype).max else np.int64
        need = self._n + ids.shape[0]
        if need > self._ids.shape[0] or id_dtype != self._ids.dtype:
            cap = need if self._n == 0 else max(need, int(self._ids.shape[0] * 1.5), 1024)
            cols = np.empty((self.words, cap), dtype=np.uint64)
            cols[:, : self._n] = self._cols[:, : self._n]
            i = np.empty(cap, dtype=id_dtype)
            i[: self._n] = self._ids[: self._n]
            self._cols, self._ids = cols, i
        self._cols[:, self._n : need] = words.T
        self._ids[self._n : need] = ids
        self._n = need

    def query_words(self, code: bytes) -> np.ndarray:
        """A query code as ``words`` uint64 values."""
        if len(code) * 8 != self.bits:
            raise IndexStoreError(
                f"the query code has {len(code) * 8} bits, the index holds {self.bits}-bit codes"
            )
        return pack_words([bytes(code)], self.bits, IndexStoreError)[0]

    def _block_distances(
        self,
        q: np.ndarray,
        start: int,
        stop: int,
        xor: np.ndarray,
        cnt: np.ndarray,
        acc: np.ndarray,
    ) -> np.ndarray:
        m = stop - start
        x, c = xor[:m], cnt[:m]
        for j in range(self.words):
            np.bitwise_xor(self._cols[j, start:stop], q[j], out=x)
            bitwise_count(x, out=c)
            if self.words == 1:
                return c
            if j == 0:
                acc[:m] = c
            else:
                np.add(acc[:m], c, out=acc[:m])
        return acc[:m]

    def _buffers(self, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.empty(rows, dtype=np.uint64),
            np.empty(rows, dtype=np.uint8),
            np.empty(rows if self.words > 1 else 0, dtype=np.uint16),
        )

    def distances(self, code: bytes) -> np.ndarray:
        """Hamming distance from ``code`` to every row, in row order (for tests and tools)."""
        q = self.query_words(code)
        bufs = self._buffers(self._n)
        return self._block_distances(q, 0, self._n, *bufs).astype(np.int32)

    def search(
        self, code: bytes, k: int | None = 10, radius: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest codes to ``code``, optionally only those within ``radius``.

        Args:
            code: Packed query code (``bits // 8`` bytes).
            k: How many to return; ``None`` returns every code within ``radius``.
            radius: Largest Hamming distance to return; ``None`` means no limit.

        Returns:
            ``(ids, distances)`` as int64 and int32 arrays, sorted by distance then id.
        """
        if k is None and radius is None:
            raise ValueError("give k, radius or both")
        q = self.query_words(code)
        limit = self.bits if radius is None else min(int(radius), self.bits)
        if limit < 0 or k == 0 or self._n == 0:
            return np.empty(0, np.int64), np.empty(0, np.int32)
        best_pos = np.empty(0, dtype=np.int64)
        best_d = np.empty(0, dtype=np.int32)
        bufs = self._buffers(min(self.chunk_rows, self._n))
        for start in range(0, self._n, self.chunk_rows):
            stop = min(start + self.chunk_rows, self._n)
            d = self._block_distances(q, start, stop, *bufs)
            # Rows in later blocks have larger ids, so they only displace a full top-k if
            # strictly closer than its worst entry.
            full = k is not None and best_d.shape[0] >= k
            thr = min(limit, int(best_d[-1]) - 1) if full else limit
            if thr < 0:
                break
            cand = np.flatnonzero(d <= thr)
            if cand.shape[0] == 0:
                continue
            cd = d[cand].astype(np.int32)
            if k is not None and cand.shape[0] > k:
                sel = _smallest(cd, k)
                cand, cd = cand[sel], cd[sel]
            pos = np.concatenate([best_pos, cand + start])
            dist = np.concatenate([best_d, cd])
            order = np.lexsort((pos, dist))
            if k is not None:
                order = order[:k]
            best_pos, best_d = pos[order], dist[order]
        return self._ids[best_pos].astype(np.int64), best_d
