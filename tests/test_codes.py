"""hnnframe.codes: the Q rule, packing and Hamming distance (paper eq. 1)."""

from __future__ import annotations

import numpy as np
import pytest

from hnnframe.codes import (
    DEFAULT_BITS,
    check_bits,
    hamming,
    hamming_matrix,
    pack_code,
    pack_words,
    unpack_code,
    words_per_code,
)
from hnnframe.errors import ConfigError, HnnError, IndexStoreError


def test_hamming_matrix() -> None:
    a = np.array([[0, 1, 1, 0], [1, 1, 1, 1]], dtype=np.uint8)
    b = np.array([[1, 1, 0, 0], [0, 1, 1, 0]], dtype=np.uint8)
    assert hamming_matrix(a, b).tolist() == [[2, 0], [2, 2]]


@pytest.mark.parametrize("bits", [8, 24, 64, 72, 256])
def test_pack_unpack_round_trip_and_hamming(bits: int) -> None:
    rng = np.random.default_rng(bits)
    x, y = rng.integers(0, 2, (2, bits), dtype=np.uint8)
    cx, cy = pack_code(x), pack_code(y)
    assert len(cx) == bits // 8 and (unpack_code(cx, bits) == x).all()
    assert hamming(cx, cy) == int((x != y).sum()) == hamming_matrix(x[None], y[None])[0, 0]


def test_hamming_of_codes_of_different_lengths_is_an_error() -> None:
    with pytest.raises(HnnError, match="different lengths"):
        hamming(b"\x00", b"\x00\x00")


@pytest.mark.parametrize("bad", [0, -8, 12, 7.5, "32", True, None])
def test_check_bits_rejects_what_is_not_a_positive_multiple_of_8(bad: object) -> None:
    with pytest.raises(ConfigError, match="multiple of 8"):
        check_bits(bad)
    with pytest.raises(IndexStoreError, match="code length"):
        check_bits(bad, "code length", IndexStoreError)


def test_default_q_is_a_valid_q() -> None:
    assert check_bits(DEFAULT_BITS) == 32 and check_bits(np.int64(64)) == 64


def test_pack_words_pads_to_whole_words_without_changing_distances() -> None:
    rng = np.random.default_rng(0)
    bits = 72  # two uint64 words, the second mostly padding
    codes = [pack_code(rng.integers(0, 2, bits, dtype=np.uint8)) for _ in range(5)]
    w = pack_words(codes, bits)
    assert w.shape == (5, words_per_code(bits)) == (5, 2) and w.dtype == np.uint64
    d = np.bitwise_count(w[0] ^ w[1]).sum()
    assert d == hamming(codes[0], codes[1])
    with pytest.raises(IndexStoreError, match="index holds 72-bit"):
        pack_words([b"\x00"], bits, IndexStoreError)
