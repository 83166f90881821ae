"""Protocol (c)'s retrieval through a real hash index.

The database's architectures, described as uploads (:func:`hnnframe.upload.describe_uploads`),
are added to a temporary SQLite index (:class:`hnnframe.index.HashIndex`) the way
``hnn index add`` adds them; each copy, and each architecture looking for its nearest other,
is then looked up with :meth:`~hnnframe.index.HashIndex.search`. Hamming distance only: the
``k`` entries tied at the minimum distance are all fetched (a radius search at that distance)
and a right one among them scores ``1/k``, the expected value under a random tie break
(:mod:`hnnframe.protocol_c.metrics` gives the same figures from a distance matrix).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from hnnframe.codes import unpack_code
from hnnframe.index import HashIndex, Match
from hnnframe.index import open as open_index


@contextmanager
def database_index(
    uploads: Sequence[Any], fingerprint: str
) -> Iterator[tuple[HashIndex, list[int]]]:
    """A temporary SQLite index holding ``uploads`` (added in order, in one transaction), and
    the record id of each; the file is deleted on exit."""
    with tempfile.TemporaryDirectory(prefix="hnn-protocol-c-") as tmp:
        with open_index(Path(tmp) / "database.db") as idx:
            added = idx.add(list(uploads), fingerprint=fingerprint)
            yield idx, [int(a.id) for a in added]


def nearest_ties(idx: HashIndex, query: Any, fingerprint: str | None = None) -> list[Match]:
    """Every indexed entry at the minimum Hamming distance from ``query``."""
    first = idx.search(query, k=1, fingerprint=fingerprint)
    if not first:
        return []
    return idx.search(query, k=None, radius=first[0].distance, fingerprint=fingerprint)


def own_top1(
    idx: HashIndex,
    ids: Sequence[int],
    queries: Sequence[Any],
    q_arch: Sequence[int],
    twins: Sequence[frozenset[int]] | None = None,
) -> np.ndarray:
    """Per copy, the share of the ``k`` nearest ties that are its own architecture: ``1/k``
    if only that one is right. With ``twins`` (per architecture, those with its canonical
    graph, itself included) a graph-identical twin is right too: one network, two names."""
    out = []
    for q, a in zip(queries, q_arch, strict=True):
        tied = {m.record.id for m in nearest_ties(idx, q)}
        right = {ids[b] for b in twins[a]} if twins is not None else {ids[a]}
        out.append(len(tied & right) / len(tied) if tied else 0.0)
    return np.asarray(out)


def family_top1(
    idx: HashIndex, ids: Sequence[int], families: Sequence[str], which: Sequence[int]
) -> np.ndarray:
    """For each architecture ``which[i]``: the share of its nearest other indexed
    architectures (ties at the minimum distance) that are of its family."""
    family = {rid: families[i] for i, rid in enumerate(ids)}
    out = []
    for i in which:
        me = idx.get(ids[i])
        # its two nearest (itself among them, or tied with it first by id): the nearest other
        other = next(m for m in idx.search(me, k=2) if m.record.id != me.id)
        tied = [m for m in idx.search(me, k=None, radius=other.distance) if m.record.id != me.id]
        out.append(float(np.mean([family[m.record.id] == families[i] for m in tied])))
    return np.asarray(out)


def stored_codes(idx: HashIndex, ids: Sequence[int], bits: int) -> np.ndarray:
    """The 0/1 codes the index holds for ``ids``, in that order (their first ``bits``)."""
    recs = {r.id: r for r in idx.list()}
    return np.stack([unpack_code(recs[i].code, bits) for i in ids]).astype(np.uint8)
