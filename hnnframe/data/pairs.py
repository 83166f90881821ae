"""Training pairs (paper section 4.1.2): each epoch pairs every training graph with one partner,
a share ``same_frac`` of them from its own category and the rest at random.

With a partner pool (``train.partners: K``, for corpora where GED of every pair is out of
reach), each graph's K partners are drawn once, the same way, and every epoch draws one of them.
"""

from __future__ import annotations

import numpy as np


def sample_pairs(
    rng: np.random.Generator,
    labels: np.ndarray,
    same_frac: float,
    partners: np.ndarray | None = None,
) -> np.ndarray:
    """``[n, 2]`` index pairs: every graph once as the first, its partner as the second."""
    n = len(labels)
    if partners is not None:
        firsts = rng.permutation(n)
        pick = rng.integers(partners.shape[1], size=n)
        return np.stack([firsts, partners[firsts, pick]], axis=1)
    by_label: dict[int, np.ndarray] = {
        int(c): np.flatnonzero(labels == c) for c in np.unique(labels)
    }
    firsts = rng.permutation(n)
    seconds = np.empty(n, dtype=np.int64)
    same = rng.random(n) < same_frac
    for k, i in enumerate(firsts):
        pool = by_label[int(labels[i])] if same[k] else None
        if pool is not None and len(pool) > 1:
            j = i
            while j == i:
                j = int(rng.choice(pool))
        else:
            j = int(rng.integers(n - 1))
            j += j >= i
        seconds[k] = j
    return np.stack([firsts, seconds], axis=1)


def partner_pool(labels: np.ndarray, k: int, seed: int, same_frac: float) -> np.ndarray:
    """``[n, k]``: k partners per training graph, drawn as an epoch's pairs are."""
    rng = np.random.default_rng([seed, 1])  # its own stream: epochs' draws are unchanged
    rounds = []
    for _ in range(k):
        pairs = sample_pairs(rng, labels, same_frac)
        partner = np.empty(len(labels), dtype=np.int64)
        partner[pairs[:, 0]] = pairs[:, 1]
        rounds.append(partner)
    return np.stack(rounds, axis=1)
