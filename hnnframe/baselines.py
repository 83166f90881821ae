"""A non-learned baseline: Weisfeiler-Lehman subtree histograms + SimHash to Q bits.

Each node starts with its op type as label; ``iterations`` rounds of WL relabelling (on the
undirected graph) give every node one label per round, each naming a rooted subtree. A graph
becomes the histogram of all those labels (Shervashidze et al. 2011, the WL subtree kernel's
feature map). SimHash (Charikar 2002) turns the histogram into Q bits: every label is mapped
to a pseudo-random +-1 vector of length Q (seeded by a stable hash of the label, so no state
and no training are needed), the vectors are summed with weights log(1 + count), and bit b is
1 where the sum is positive. Similar histograms give codes at a small Hamming distance.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from hnnframe.errors import ConfigError
from hnnframe.ir import OpGraph


def wl_histogram(graph: OpGraph, iterations: int = 3) -> Counter[str]:
    """Counts of WL subtree labels over rounds 0..iterations (round 0: op types)."""
    nbrs: list[list[int]] = [[] for _ in graph.nodes]
    for s, d in graph.edges:
        nbrs[s].append(d)
        nbrs[d].append(s)
    labels = [n.op for n in graph.nodes]
    hist: Counter[str] = Counter(f"0:{lab}" for lab in labels)
    for it in range(1, iterations + 1):
        new = []
        for i, lab in enumerate(labels):
            signature = lab + "|" + ",".join(sorted(labels[j] for j in nbrs[i]))
            new.append(hashlib.blake2b(signature.encode(), digest_size=8).hexdigest())
        labels = new
        hist.update(f"{it}:{lab}" for lab in labels)
    return hist


@lru_cache(maxsize=1 << 16)
def _label_vector(label: str, bits: int, seed: int) -> np.ndarray:
    h = hashlib.sha256(f"{seed}/{label}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(h[:8], "little"))
    return rng.choice(np.array([-1.0, 1.0]), size=bits)


class WLSimHash:
    """WL-subtree SimHash codes; ``codes(graphs)`` returns 0/1 ``[N, Q]`` and embeddings."""

    def __init__(self, bits: int = 32, iterations: int = 3, seed: int = 0) -> None:
        if bits <= 0 or bits % 8:
            raise ConfigError(f"Q must be a positive multiple of 8, got {bits}")
        self.bits, self.iterations, self.seed = bits, iterations, seed

    def embed(self, graph: OpGraph) -> np.ndarray:
        acc = np.zeros(self.bits)
        for label, count in wl_histogram(graph, self.iterations).items():
            acc += np.log1p(count) * _label_vector(label, self.bits, self.seed)
        return acc

    def codes(self, graphs: Sequence[OpGraph]) -> dict[str, np.ndarray]:
        emb = np.stack([self.embed(g) for g in graphs]) if graphs else np.zeros((0, self.bits))
        return {"codes": (emb > 0).astype(np.uint8), "embedding": emb.astype(np.float32)}
