"""The in-memory Hamming scan of the index (hnnframe.index.scan), against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from support.index import brute, expected

from hnnframe.errors import IndexStoreError
from hnnframe.index.scan import HammingScanner


@pytest.mark.parametrize("bits", [8, 16, 32, 64, 72, 128, 256])
def test_scanner_matches_brute_force(bits: int) -> None:
    rng = np.random.default_rng(bits)
    n = 1000
    codes = [rng.integers(0, 256, bits // 8, dtype=np.uint8).tobytes() for _ in range(n)]
    codes[10] = codes[500] = codes[999]  # exact ties across chunks
    ids = list(range(5, 5 + 3 * n, 3))
    sc = HammingScanner(bits, chunk_rows=97)  # many chunks
    assert sc.max_id == 0
    sc.add(ids[:400], codes[:400])
    assert sc.max_id == ids[399]
    sc.add(ids[400:], codes[400:])
    assert len(sc) == n and sc.max_id == ids[-1]
    for qi in (0, 10, 999):
        q = codes[qi]
        assert sc.distances(q).tolist() == brute(codes, q).tolist()
        for k, radius in [
            (1, None),
            (10, None),
            (n + 5, None),
            (None, bits // 4),
            (7, bits // 3),
            (10, 0),
            (None, 0),
        ]:
            got_ids, got_d = sc.search(q, k=k, radius=radius)
            want = expected(codes, ids, q, k, radius)
            assert list(zip(got_d.tolist(), got_ids.tolist(), strict=True)) == want


def test_scanner_rejects_bad_input() -> None:
    sc = HammingScanner(64)
    assert sc.search(b"\0" * 8, k=3)[0].size == 0  # empty
    with pytest.raises(IndexStoreError, match="bits"):
        sc.add([1], [b"\0" * 4])
    with pytest.raises(IndexStoreError, match="32 bits"):
        sc.search(b"\0" * 4)
    sc.add([3], [b"\0" * 8])
    with pytest.raises(ValueError, match="increasing"):
        sc.add([2], [b"\0" * 8])
    with pytest.raises(IndexStoreError, match="multiple of 8"):
        HammingScanner(12)
