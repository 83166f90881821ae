"""Exact tensor digests: the same trained tensors give the same digests whatever the tensor
names, their order and the file format (ONNX, safetensors, state dict).

What a digest covers. Each informative weight tensor (floating point, at least two elements,
not all equal) gets the sha256 of its values as little-endian float32 (fp16 and bf16 widen
exactly; float64 narrows) and of its shape, after two canonical steps:

* axes of size 1 are dropped (``[1, n]`` biases, ``[n, 1]`` columns);
* a matrix is stored with its longer axis first, and a square one in the orientation whose
  first row is the lower of (row 0, column 0) as bytes, so that an exporter that stores a Linear weight transposed (``MatMul`` with
  ``W^T``, as onnxruntime's quantizer and the TorchScript exporter do for 3-D inputs) gives
  the same digest.

Names, order, dtype of storage and the file itself are not covered; integer tensors (shape
constants), scalars and constant tensors (untrained LayerNorm ones and zero biases, which
every model of an architecture shares) are left out, so they can neither make nor break a
match. A model's digests are a multiset; :func:`shared_fraction` says how much of two models'
weights (by element count) is the same tensors.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

DIGEST_HEX = 32  # 128 bits of sha256 per tensor


@dataclass(frozen=True)
class TensorDigest:
    """One tensor's digest and how many elements it has."""

    digest: str
    numel: int


def canonical(arr: np.ndarray) -> np.ndarray:
    """The tensor in the canonical form its digest hashes (float32, size-1 axes dropped,
    matrices longer axis first); a square matrix's orientation is chosen by :func:`digest`."""
    a = np.asarray(arr)
    if a.dtype != np.float32:
        a = a.astype(np.float32)
    a = a.reshape([d for d in a.shape if d != 1])
    if a.ndim == 2 and a.shape[0] < a.shape[1]:
        a = a.T
    return a


def informative(arr: np.ndarray) -> bool:
    """Whether a tensor takes part in digests and codes: floating point, at least two
    elements, and not all equal."""
    if arr.dtype.kind != "f" or arr.size < 2:
        return False
    flat = arr.reshape(-1)
    return bool(flat.min() != flat.max())


_HASH_ROWS = 1 << 20  # elements per block when a transposed tensor is hashed


def _sha(a: np.ndarray) -> str:
    h = hashlib.sha256(repr(a.shape).encode())
    if a.flags.c_contiguous or a.ndim == 0:
        h.update(np.ascontiguousarray(a, dtype="<f4").data)
    else:  # the same bytes, row block by row block: never a transposed copy of it all
        step = max(1, _HASH_ROWS // max(1, a[0].size))
        for r in range(0, a.shape[0], step):
            h.update(np.ascontiguousarray(a[r : r + step], dtype="<f4").data)
    return h.hexdigest()[:DIGEST_HEX]


def digest(arr: np.ndarray) -> str:
    """The canonical digest of one tensor (see the module docstring)."""
    return digest_canonical(canonical(arr))


def digest_canonical(a: np.ndarray) -> str:
    """:func:`digest` of a tensor already in its :func:`canonical` form."""
    if a.ndim == 2 and a.shape[0] == a.shape[1]:
        # the orientation whose first row is the lower of (row 0, column 0) as bytes: the
        # same matrix for W and W^T, with one hash (both only when they tie)
        r, c = a[0].astype("<f4").tobytes(), np.ascontiguousarray(a[:, 0], "<f4").tobytes()
        if r == c:
            return min(_sha(a), _sha(a.T))
        return _sha(a if r < c else a.T)
    return _sha(a)


def tensor_digests(tensors: Iterable[np.ndarray]) -> list[TensorDigest]:
    """Digests of the informative tensors among ``tensors``, sorted (order-free)."""
    out = [TensorDigest(digest(t), int(t.size)) for t in tensors if informative(t)]
    return sorted(out, key=lambda d: (d.digest, d.numel))


def set_digest(digests: Sequence[TensorDigest]) -> str:
    """One digest of a model's whole multiset of tensor digests: equal exactly when two
    models hold the same tensors."""
    h = hashlib.sha256()
    for d in sorted(digests, key=lambda d: d.digest):
        h.update(d.digest.encode())
    return h.hexdigest()[:DIGEST_HEX]


def shared_fraction(a: Sequence[TensorDigest], b: Sequence[TensorDigest]) -> tuple[float, float]:
    """How much of two models' weights is the same tensors, counted in elements: the
    multiset intersection over the smaller model's total, and over the larger's.

    ``(1.0, 1.0)`` is an exact copy; ``(1.0, 0.6)`` a model whose every tensor is in a larger
    one (a backbone taken out of a whole model, say).
    """
    ca = Counter(d.digest for d in a)
    cb = Counter(d.digest for d in b)
    size = {d.digest: d.numel for d in (*a, *b)}
    shared = sum(size[k] * n for k, n in (ca & cb).items())
    ta, tb = sum(d.numel for d in a), sum(d.numel for d in b)
    if not ta or not tb:
        return 0.0, 0.0
    return shared / min(ta, tb), shared / max(ta, tb)
