"""Protocol (c)'s figures, computed on codes by Hamming distance alone.

Ties count as their expected value under a random tie break: when ``k`` database entries share
the minimum distance and ``j`` of them are right, top-1 scores ``j / k``. No embedding breaks
a tie: it would hide a code that cannot tell two architectures apart (docs/evaluation.md).

* :func:`own_top1`: a copy's nearest entry is its own architecture.
* :func:`code_uniqueness`: the share of architectures whose code no other architecture has,
  and the shares of architecture pairs at distance 0 and at distance <= 2.
* :func:`family_top1`: an architecture's nearest *other* architecture is of its family.
* :func:`verification_auc`: copy-to-own-architecture distances against copy-to-architecture
  distances of other families; a tie counts one half.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hnnframe.codes import hamming_matrix


def own_top1(
    q_codes: np.ndarray,
    q_arch: Sequence[int],
    db_codes: np.ndarray,
    twins: Sequence[frozenset[int]] | None = None,
) -> np.ndarray:
    """Per query, the share of the ``k`` nearest ties that are its own database entry (or,
    with ``twins``, an entry with its canonical graph): ``1/k`` when one of them is."""
    d = hamming_matrix(q_codes, db_codes)
    nearest = d == d.min(axis=1, keepdims=True)
    right = np.zeros_like(nearest)
    for k, a in enumerate(q_arch):
        right[k, list(twins[a]) if twins is not None else [a]] = True
    return (nearest & right).sum(axis=1) / nearest.sum(axis=1)


def code_uniqueness(db_codes: np.ndarray) -> dict[str, float]:
    """Unique-code share of the architectures and the shares of pairs at d = 0 and d <= 2."""
    n = len(db_codes)
    d = hamming_matrix(db_codes, db_codes)
    off = ~np.eye(n, dtype=bool)
    unique = float(np.mean(~((d == 0) & off).any(axis=1))) if n else 0.0
    iu = np.triu_indices(n, k=1)
    pairs = d[iu]
    return {
        "unique": unique,
        "pairs_d0": float(np.mean(pairs == 0)) if pairs.size else 0.0,
        "pairs_d2": float(np.mean(pairs <= 2)) if pairs.size else 0.0,
        "pairs": int(pairs.size),
    }


def family_top1(db_codes: np.ndarray, families: Sequence[str], which: Sequence[int]) -> np.ndarray:
    """For each architecture ``which[i]``: the expected share of its nearest other
    architectures (ties at the minimum distance) that are of its family."""
    fam = np.asarray(families)
    out = []
    for i in which:
        d = hamming_matrix(db_codes[i : i + 1], db_codes)[0].astype(float)
        d[i] = np.inf
        tied = d == d.min()
        out.append(float(np.mean(fam[tied] == fam[i])))
    return np.asarray(out)


def verification_auc(
    q_codes: np.ndarray,
    q_arch: Sequence[int],
    db_codes: np.ndarray,
    families: Sequence[str],
) -> float:
    """AUC of telling a copy's own architecture from architectures of other families.

    Positives: the distance of every copy to its own architecture. Negatives: its distances to
    every architecture whose family differs from its own. AUC = P(negative > positive) +
    P(equal) / 2, over all (positive, negative) pairs of the same copy pooled.
    """
    fam = np.asarray(families)
    q_arch = np.asarray(q_arch)
    d = hamming_matrix(q_codes, db_codes)
    bits = int(q_codes.shape[1])
    pos_hist = np.zeros(bits + 1)
    neg_hist = np.zeros(bits + 1)
    for k, a in enumerate(q_arch):
        pos_hist[d[k, a]] += 1
        neg = d[k, fam != fam[a]]
        neg_hist += np.bincount(neg, minlength=bits + 1)[: bits + 1]
    if not pos_hist.sum() or not neg_hist.sum():
        return float("nan")
    # For each positive distance t: negatives above t win, negatives at t count one half.
    neg_above = neg_hist[::-1].cumsum()[::-1] - neg_hist
    wins = (pos_hist * (neg_above + 0.5 * neg_hist)).sum()
    return float(wins / (pos_hist.sum() * neg_hist.sum()))


def distance_histograms(
    q_codes: np.ndarray, q_arch: Sequence[int], db_codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Histograms over d = 0..Q of copy-to-own and copy-to-other-architecture distances."""
    d = hamming_matrix(q_codes, db_codes)
    bits = int(q_codes.shape[1])
    own = np.zeros(bits + 1)
    other = np.zeros(bits + 1)
    for k, a in enumerate(np.asarray(q_arch)):
        own[d[k, a]] += 1
        other += np.bincount(np.delete(d[k], a), minlength=bits + 1)[: bits + 1]
    return own, other
