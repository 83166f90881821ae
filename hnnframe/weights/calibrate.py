"""The shipped thresholds of the weight tier from independent pairs: the weight code's
Hamming threshold and the block threshold (:mod:`hnnframe.weights.block_signal`), chosen
together so that the verdict ("weight match" when either is within its threshold) flags at
most the target rate of every architecture's independent pairs.

The block threshold is set first, at a tenth of the target rate and at most an eighth of a
block code's bits: a block within it is the same block (cosine of its Gram sketch above
0.92), not a similar one, and every independent pair it flags would be flagged by a block
alone, whatever the code says. The code threshold then takes what is left of the rate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

#: (weight-code distance, nearest shared block distance or ``None``) of one pair of models
Pair = tuple[int, int | None]
BLOCK_SHARE = 0.1  # of the target rate, spent on the block threshold
BLOCK_CAP = 8  # the block threshold is at most 1/BLOCK_CAP of a block code's bits


@dataclass(frozen=True)
class Thresholds:
    """The two thresholds and the rate they flag (pooled and per architecture)."""

    code: int
    block: int
    fpr: float
    fpr_per_arch: dict[str, float]


def flagged(pairs: Sequence[Pair], code: int, block: int) -> np.ndarray:
    """Which pairs the verdict calls a weight match at these thresholds."""
    return np.array([c <= code or (b is not None and b <= block) for c, b in pairs], dtype=bool)


def _largest(ok: Callable[[int], bool], top: int) -> int:
    best = -1
    for t in range(top + 1):
        if not ok(t):
            break
        best = t
    return best


def derive(negatives: dict[str, Sequence[Pair]], fpr: float, bits: int) -> Thresholds:
    """The largest block threshold, then the largest code threshold, with at most ``fpr`` of
    every architecture's independent pairs flagged (module docstring)."""
    groups = [list(v) for v in negatives.values() if v]

    def rate(pairs: list[Pair], code: int, block: int) -> float:
        return float(flagged(pairs, code, block).mean())

    block = _largest(
        lambda t: all(rate(g, -1, t) <= fpr * BLOCK_SHARE for g in groups),
        bits // 2 // BLOCK_CAP,
    )
    code = _largest(lambda t: all(rate(g, t, block) <= fpr for g in groups), bits)
    per_arch = {a: rate(list(v), code, block) for a, v in negatives.items() if v}
    pooled = [p for g in groups for p in g]
    return Thresholds(code, block, rate(pooled, code, block), per_arch)
