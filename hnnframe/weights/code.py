"""The weight perceptual code: Q bits from a model's weight tensors, close (in Hamming
distance) for copies of one trained model and far for models trained independently.

It has two halves of Q/2 bits each (see docs/weights.md for the measurements behind them).

*Unit-cloud half*, invariant to any permutation of hidden units. Each axis of a weight matrix
(output units, input units) is a cloud of points, one per unit, described by statistics that
no permutation can change: the unit's norm, sum, L1 norm and largest magnitude, its weights
summed against the other axis's (rank-normalised) sums, norms and maxima, and for a
convolution its spatial profile (kernel positions are never permuted). Every statistic is
replaced by its normal score (rank -> Gaussian quantile), and the cloud is summarised by
random Fourier features, ``mean_i cos(w . d_i + b)``, minus their value under a Gaussian with
the cloud's own covariance (so what is left is the cloud's individual shape, not what every
trained layer shares). This follows the invariant "sorted statistics" of weight-space
fingerprinting and the kernel mean embedding of point sets; the normal-score step makes it
blind to scale and to monotone distortions (fp16, int8 rounding, magnitude pruning keep
ranks nearly unchanged).

*Gram half*, exact for copies that keep unit order. For each axis, the correlation Gram
matrix of its units (every other axis contracted, each unit normalised: invariant to
permutations and rescalings of the *other* axes) is sketched by ``u^T (G - I) u`` for
seeded Gaussian ``u``; an anchored axis (input pixels, classes, vocabulary, kernel
positions) keeps its order under every function-preserving permutation, as in HuRef's
invariants anchored on the vocabulary (Zeng et al., NeurIPS 2024).

*Block codes*, for the verdict rather than the search (:meth:`WeightCoder.blocks`): the
Gram sketch of each block whose axis is the network's own hidden basis, signed on its own.
A basis that tensors of several shapes share (the residual stream's width, a CNN's channels)
is arbitrary at initialisation, so two independently trained models' Grams over it are
unrelated and their block codes differ in about half their bits; a copy that keeps any such
block (LoRA leaves the embeddings, a dropped layer leaves the others, a permutation of MLP
units leaves the residual axis) keeps that block's code nearly bit for bit, however far the
sum of every block has moved. An axis of one shape only (the vocabulary, positions, classes,
input pixels) is the data's basis, which independently trained models share, and is left
out.

Each half is a SimHash (Charikar 2002): seeded Gaussian projections of the concatenated,
per-block normalised features, one bit per sign. Blocks are keyed by the canonical shape of
their tensor (and axis), never by name, and blocks of one key are summed, so the code does
not depend on tensor names or order. Only tensors of two or more dimensions (after dropping
size-1 axes) take part; identical tensors (tied weights) count once.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from hnnframe.codes import check_bits, pack_code
from hnnframe.errors import ConfigError

#: Default code length (docs/weights.md): 128 bits per half; 512 gives more margin, slower.
DEFAULT_WEIGHT_BITS = 256
FOURIER = 32  # random Fourier features per unit cloud
FREQUENCY = 1.0  # their scale, in normal-score units
MIN_UNITS = 8  # a cloud of fewer units says little and is left out
#: A block code needs this many units on its axis: a Gram of fewer units has so few distinct
#: entries that independently trained models' sketches agree by chance.
BLOCK_MIN_UNITS = 16
_CROSS = 3  # cross statistics: against the other axis's sums, norms, maxima


def check_weight_bits(bits: object) -> int:
    """``bits`` as an int: a positive multiple of 16 (two halves of whole bytes)."""
    q = check_bits(bits, "Q of the weight code", ConfigError)
    if q % 16:
        raise ConfigError(f"Q of the weight code must be a multiple of 16, got {q}")
    return q


def _rng(*key: object) -> np.random.Generator:
    seed = hashlib.sha256(repr(key).encode()).digest()[:8]
    return np.random.default_rng(int.from_bytes(seed, "little"))


def orient(arr: np.ndarray) -> np.ndarray:
    """Size-1 axes dropped, a matrix with its longer axis first (as the digests do), float32."""
    a = np.asarray(arr, dtype=np.float32)
    a = a.reshape([d for d in a.shape if d != 1])
    if a.ndim == 2 and a.shape[0] < a.shape[1]:
        a = a.T
    return a


def normal_scores(v: np.ndarray) -> np.ndarray:
    """Each value's rank mapped to the standard normal quantile (ties broken by position)."""
    from scipy.special import ndtri

    ranks = np.empty(len(v))
    ranks[np.argsort(v, kind="stable")] = np.arange(len(v))
    return ndtri((ranks + 0.5) / len(v))


CHUNK = 1 << 22  # elements per slice of a tensor: bounds every temporary array


def _row_chunks(n_rows: int, row_size: int) -> list[slice]:
    step = max(1, CHUNK // max(row_size, 1))
    return [slice(i, min(i + step, n_rows)) for i in range(0, n_rows, step)]


def _temporaries(buf: dict, x2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two arrays laid out as numpy would lay out ``x2 * x2`` (so every reduction over them
    sums in the same order, bit for bit), made once per chunk shape and reused: a fresh
    array per chunk costs page faults that took longer than the arithmetic."""
    key = (x2.shape, x2.strides)
    if key not in buf:
        buf.clear()
        buf[key] = (np.empty_like(x2), np.empty_like(x2))
    return buf[key]


def _stats(x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Raw per-unit statistics of both axes of ``x`` ``[O, I, K]`` (float32), read in row
    slices: norm, sum, L1 norm, largest magnitude, the three cross statistics and (K > 1)
    the spatial profile."""
    o, i, k = x.shape
    row = {n: np.zeros(o) for n in ("e", "s", "a", "m")}
    col = {n: np.zeros(i) for n in ("e", "s", "a", "m")}
    row_sp, col_sp = np.zeros((o, k)), np.zeros((i, k))
    chunks = _row_chunks(o, i * k)
    buf: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
    for c in chunks:
        xc = x[c]
        if k == 1:  # matrices: no spatial axis to reduce
            x2 = xc[:, :, 0]
            e, a2 = _temporaries(buf, x2)
            s2 = x2
            m2 = np.abs(x2, out=a2)
            np.multiply(x2, x2, out=e)
        else:
            ax = np.abs(xc)
            e, s2, a2, m2 = (xc * xc).sum(2), xc.sum(2), ax.sum(2), ax.max(2)
            row_sp[c] = xc.sum(1)
            col_sp += xc.sum(0)
        row["e"][c], col["e"] = e.sum(1), col["e"] + e.sum(0)
        row["s"][c], col["s"] = s2.sum(1), col["s"] + s2.sum(0)
        row["a"][c], col["a"] = a2.sum(1), col["a"] + a2.sum(0)
        row["m"][c], col["m"] = m2.max(1), np.maximum(col["m"], m2.max(0))
    out = []
    for d, sp in ((row, row_sp), (col, col_sp)):
        out.append([np.sqrt(d["e"]), d["s"], d["a"], d["m"]] + (list(sp.T) if k > 1 else []))
    # cross statistics: each unit's weights summed against the other axis's rank scores
    rk = np.stack([normal_scores(v) for v in (out[0][1], out[0][0], out[0][3])], 1)
    ck = np.stack([normal_scores(v) for v in (out[1][1], out[1][0], out[1][3])], 1)
    rc, cc = np.zeros((o, 3)), np.zeros((i, 3))
    ck32, rk32 = ck.astype(np.float32), rk.astype(np.float32)
    for c in chunks:
        sc = x[c, :, 0] if k == 1 else x[c].sum(2)
        rc[c] = sc @ ck32
        cc += sc.T @ rk32[c]
    out[0][4:4] = list(rc.T[:_CROSS])
    out[1][4:4] = list(cc.T[:_CROSS])
    return out[0], out[1]


def _cloud_features(stats: list[np.ndarray], key: tuple) -> np.ndarray:
    """Random Fourier features of a unit cloud (normal scores of ``stats``) minus their
    expectation under a Gaussian with the cloud's covariance."""
    d = np.stack([normal_scores(s) for s in stats], 1)
    r = _rng("cloud", key, d.shape[1])
    omega = r.normal(0.0, FREQUENCY, size=(d.shape[1], FOURIER))
    phase = r.uniform(0.0, 2 * np.pi, FOURIER)
    f = np.cos(d @ omega + phase).mean(0)
    cov = np.cov(d.T, bias=True).reshape(d.shape[1], d.shape[1])
    return f - np.cos(phase) * np.exp(-0.5 * np.einsum("dm,de,em->m", omega, cov, omega))


EXACT_GRAM = 512  # axes up to this many units get their Gram matrix computed exactly


def _gram_sketch(
    a: np.ndarray, axis: int, key: tuple, half: int, norm: np.ndarray | None = None
) -> np.ndarray:
    """``u_q^T (C - I) u_q`` for the correlation matrix ``C`` of ``axis``'s units (each unit
    normalised over every other axis), for seeded Gaussian ``u_q``; read in slices.
    ``norm``: the units' norms when already known."""
    n = a.shape[axis]
    m = np.moveaxis(a, axis, 0)  # a view: [n, ...rest]
    u = _rng("gram", key, half).standard_normal((n, half), dtype=np.float32)
    rest = m.shape[1:]
    # slices along the first "rest" axis, so that every unit's whole row is never copied
    step = max(1, CHUNK // max(1, int(np.prod(rest[1:], dtype=np.int64)) * max(n, half)))
    parts = [m[:, j : j + step].reshape(n, -1) for j in range(0, rest[0], step)]
    if n <= EXACT_GRAM:
        g = sum((p @ p.T).astype(np.float64) for p in parts)
        d = np.sqrt(np.diag(g)) + 1e-12
        u64 = u.astype(np.float64)
        y = np.einsum("ih,ij,jh->h", u64, g / d[:, None] / d[None, :], u64)
    else:
        if norm is None:
            norm = np.sqrt(sum(np.einsum("ij,ij->i", p, p, dtype=np.float64) for p in parts))
        u /= (norm[:, None] + 1e-12).astype(np.float32)  # scale u, never copy the tensor
        # A matrix is one view: one product runs at full BLAS speed (narrow column slices
        # of a row-major matrix ran ~10x slower), and its output is only [rest, half].
        whole = [m] if m.ndim == 2 else parts
        y = sum(np.einsum("ij,ij->j", q, q, dtype=np.float64) for q in (p.T @ u for p in whole))
        u *= (norm[:, None] + 1e-12).astype(np.float32)
    return (y - np.einsum("ih,ih->h", u, u, dtype=np.float64)) / np.sqrt(n * max(n - 1, 1))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v) + 1e-12)


@dataclass
class TensorFeatures:
    """One tensor's cloud and Gram features by block key (:meth:`WeightCoder.features`)."""

    shape: tuple[int, ...]
    clouds: list[tuple[tuple, np.ndarray]] = field(default_factory=list)
    grams: list[tuple[tuple, np.ndarray]] = field(default_factory=list)


@dataclass
class WeightCoder:
    """Accumulates the code's features tensor by tensor; :meth:`code` gives the bits.

    Memory is the tensor plus slices of a few million elements while it is added, then a
    few hundred numbers per distinct tensor shape.
    """

    bits: int = DEFAULT_WEIGHT_BITS
    clouds: dict[tuple, np.ndarray] = field(default_factory=dict)
    grams: dict[tuple, np.ndarray] = field(default_factory=dict)
    shapes: set[tuple[int, ...]] = field(default_factory=set)
    tensors: int = 0

    def __post_init__(self) -> None:
        self.bits = check_weight_bits(self.bits)

    def add(self, arr: np.ndarray) -> bool:
        """Add one tensor; returns whether it took part (two or more dimensions)."""
        return self.accept(self.features(arr))

    def features(self, arr: np.ndarray) -> TensorFeatures | None:
        """One tensor's share of the code, not yet added (``None``: it takes no part). The
        arithmetic is here, so a caller can compute it while another thread decides whether
        the tensor counts (a tied copy of one already added does not)."""
        a = orient(arr)
        if a.ndim < 2 or a.size < 4:
            return None
        # all finite and not all zero, from two reductions (min and max carry any NaN or
        # infinity), without the tensor-sized boolean arrays of isfinite() and any()
        lo, hi = a.min(), a.max()
        if not (np.isfinite(lo) and np.isfinite(hi)) or (lo == 0 and hi == 0):
            return None
        square = a.ndim == 2 and a.shape[0] == a.shape[1]
        half = self.bits // 2
        x = a.reshape(a.shape[0], a.shape[1], -1)
        rows, cols = _stats(x)
        part = TensorFeatures(a.shape)
        for axis, stats in ((0, rows), (1, cols)):
            if x.shape[axis] < MIN_UNITS:
                continue
            key = (a.shape, "square" if square else axis)
            part.clouds.append((key, _cloud_features(stats, key)))
        for axis in range(a.ndim):
            if a.shape[axis] < 2:
                continue
            key = (a.shape, "square" if square and axis < 2 else axis)
            norm = rows[0] if axis == 0 else cols[0] if axis == 1 else None
            part.grams.append((key, _gram_sketch(a, axis, key, half, norm)))
        return part

    def accept(self, part: TensorFeatures | None) -> bool:
        """Add a tensor's :meth:`features`; returns whether it took part."""
        if part is None:
            return False
        for key, f in part.clouds:
            self._accumulate(self.clouds, key, f)
        for key, g in part.grams:
            self._accumulate(self.grams, key, g)
        self.shapes.add(part.shape)
        self.tensors += 1
        return True

    @staticmethod
    def _accumulate(blocks: dict[tuple, np.ndarray], key: tuple, features: np.ndarray) -> None:
        # A block whose features overflowed (an exporter's attention-mask constant holds
        # float32's largest value, whose square is inf) is left out: one NaN summed into a
        # half would set every one of its bits to 0, whatever the other tensors are.
        if np.isfinite(features).all():
            blocks[key] = blocks.get(key, 0) + _unit(features)

    def code(self) -> bytes:
        """The packed Q-bit code (all zero bits when no tensor took part)."""
        half = self.bits // 2
        y = np.zeros(half)
        for key, f in sorted(self.clouds.items(), key=lambda kv: repr(kv[0])):
            y += _rng("project", key, half).standard_normal((half, len(f))) @ f
        z = np.zeros(half)
        for _key, g in sorted(self.grams.items(), key=lambda kv: repr(kv[0])):
            z += g  # each Gram sketch is already a seeded random projection
        return pack_code(np.concatenate([y > 0, z > 0]))

    def blocks(self) -> dict[str, bytes]:
        """The block codes: ``block name -> Q/2 packed bits``, for every Gram block over a
        hidden axis (an axis size that tensors of two or more shapes have, of at least
        :data:`BLOCK_MIN_UNITS` units; module docstring)."""
        shared = Counter(n for shape in self.shapes for n in set(shape))
        out = {}
        for key, g in self.grams.items():
            shape, axis = key
            sizes = shape[:2] if axis == "square" else (shape[axis],)
            if all(shared[n] >= 2 and n >= BLOCK_MIN_UNITS for n in sizes):
                out[block_name(key)] = pack_code(g > 0)
        return dict(sorted(out.items()))


def block_name(key: tuple) -> str:
    """A Gram block's key as text: ``"96x32/1"``, ``"32x32/square"``."""
    shape, axis = key
    return f"{'x'.join(map(str, shape))}/{axis}"


def weight_code(tensors: list[np.ndarray], bits: int = DEFAULT_WEIGHT_BITS) -> bytes:
    """The code of a list of tensors (convenience for tests and small models)."""
    coder = WeightCoder(bits)
    for t in tensors:
        coder.add(t)
    return coder.code()
