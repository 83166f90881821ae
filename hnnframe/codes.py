"""Binary codes: the Q rule, packing, and Hamming distance (paper section 3.1, eq. 1).

A Q-bit code is stored as ``np.packbits`` bytes (big-endian bit order within each byte) and
shown as hex; Q is a positive multiple of 8 so that a code is whole bytes. In memory a batch
of codes is a ``[N, Q]`` 0/1 matrix (training, evaluation) or ``[N, words]`` uint64 words
(the index's scan, :class:`hnnframe.index.scan.HammingScanner`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hnnframe.errors import ConfigError, HnnError

#: Q of the paper's headline results (Table 2, 32 bits) and of a recipe that names none.
DEFAULT_BITS = 32


def check_bits(bits: Any, what: str = "Q (hash.bits)", error: type[HnnError] = ConfigError) -> int:
    """``bits`` as an int if it is a positive multiple of 8, else raise ``error``."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits <= 0 or bits % 8:
        raise error(f"{what} must be a positive multiple of 8, got {bits!r}")
    return int(bits)


def pack_code(bits01: np.ndarray) -> bytes:
    """A 0/1 vector of length Q as Q/8 bytes."""
    return np.packbits(np.asarray(bits01, dtype=np.uint8)).tobytes()


def unpack_code(code: bytes, bits: int) -> np.ndarray:
    """Q/8 bytes back to a 0/1 uint8 vector of length ``bits``."""
    return np.unpackbits(np.frombuffer(code, dtype=np.uint8))[:bits]


def hamming(a: bytes, b: bytes) -> int:
    """Eq. 1: the number of differing bits of two packed codes of the same length."""
    if len(a) != len(b):
        raise HnnError(f"codes of different lengths ({8 * len(a)} and {8 * len(b)} bits)")
    return int(np.unpackbits(np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)).sum())


def hamming_matrix(q: np.ndarray, db: np.ndarray) -> np.ndarray:
    """Pairwise Hamming distances between 0/1 code matrices ``[Nq, Q]`` and ``[Nd, Q]``."""
    q = q.astype(np.int32)
    db = db.astype(np.int32)
    # |a - b| summed = a.sum + b.sum - 2 a.b for 0/1 vectors
    return q.sum(1)[:, None] + db.sum(1)[None, :] - 2 * q @ db.T


_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def bitwise_count(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Popcount of each uint64 into ``out`` (uint8)."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(x, out=out)
    # pragma: no cover - numpy 1.x: a byte lookup table
    np.sum(_POPCOUNT8[x.view(np.uint8).reshape(-1, 8)], axis=1, dtype=np.uint8, out=out)
    return out


def words_per_code(bits: int) -> int:
    """Number of uint64 words that hold a ``bits``-bit code."""
    return (bits + 63) // 64


def pack_words(
    codes: Sequence[bytes] | np.ndarray, bits: int, error: type[HnnError] = HnnError
) -> np.ndarray:
    """Turn packed codes into a ``(n, words)`` uint64 array (zero-padded to whole words).

    Zero padding XORs to zero, so distances are unchanged.

    Args:
        codes: ``n`` codes of ``bits // 8`` bytes each, or an ``(n, bits // 8)`` uint8 array.
        bits: Code length Q, a multiple of 8.
        error: the error raised when a code does not have ``bits // 8`` bytes.

    Returns:
        A C-contiguous ``(n, words_per_code(bits))`` uint64 array.
    """
    nbytes = bits // 8
    if isinstance(codes, np.ndarray):
        arr = np.ascontiguousarray(codes, dtype=np.uint8)
        if arr.ndim != 2 or arr.shape[1] != nbytes:
            raise error(f"codes of shape {arr.shape}; expected (n, {nbytes})")
    else:
        for c in codes:
            if len(c) != nbytes:
                raise error(f"a code has {len(c) * 8} bits, the index holds {bits}-bit codes")
        arr = np.frombuffer(b"".join(codes), dtype=np.uint8).reshape(-1, nbytes)
    width = words_per_code(bits) * 8
    if width != nbytes:
        padded = np.zeros((arr.shape[0], width), dtype=np.uint8)
        padded[:, :nbytes] = arr
        arr = padded
    return np.ascontiguousarray(arr).view(np.uint64).reshape(arr.shape[0], -1)
