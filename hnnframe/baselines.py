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
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from hnnframe.ir import OpGraph
from hnnframe.wl import node_labels, wl_histogram


@lru_cache(maxsize=1 << 16)
def _label_vector(label: str, bits: int, seed: int) -> np.ndarray:
    h = hashlib.sha256(f"{seed}/{label}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(h[:8], "little"))
    return rng.choice(np.array([-1.0, 1.0]), size=bits)


class WLSimHash:
    """WL-subtree SimHash codes; ``codes(graphs)`` returns 0/1 ``[N, Q]`` and embeddings.

    ``labels="op"`` (the default, the raw-graph baseline) starts from op types only;
    ``labels="op_digits"`` also carries the FLOP and parameter digits (eq. 3), which is how the
    canonical-graph baseline of protocol (c) labels its nodes.
    """

    def __init__(
        self, bits: int = 32, iterations: int = 3, seed: int = 0, labels: str = "op"
    ) -> None:
        from hnnframe.codes import check_bits

        self.bits = check_bits(bits, "Q")
        self.iterations, self.seed = iterations, seed
        node_labels(OpGraph(), labels)  # validate early
        self.labels = labels

    def embed(self, graph: OpGraph) -> np.ndarray:
        acc = np.zeros(self.bits)
        for label, count in wl_histogram(graph, self.iterations, self.labels).items():
            acc += np.log1p(count) * _label_vector(label, self.bits, self.seed)
        return acc

    def codes(self, graphs: Sequence[OpGraph]) -> dict[str, np.ndarray]:
        emb = np.stack([self.embed(g) for g in graphs]) if graphs else np.zeros((0, self.bits))
        return {"codes": (emb > 0).astype(np.uint8), "embedding": emb.astype(np.float32)}
