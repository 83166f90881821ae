"""Weisfeiler-Lehman subtree features of an OpGraph (Shervashidze et al. 2011).

Each node starts with a label (its op type, or the op with the digit buckets of its FLOPs and
parameters, the features of the paper's eq. 3); ``iterations`` rounds of relabelling on the
undirected graph give every node one label per round, each naming a rooted subtree. A graph
becomes the histogram of those labels, the WL subtree kernel's feature map. The SimHash
baseline (:mod:`hnnframe.baselines`) and the WL-kernel topology target
(:class:`hnnframe.ged.wl.WLKernelDistance`) both start from it.
"""

from __future__ import annotations

import hashlib
from collections import Counter

from hnnframe.encoders import digit_bucket
from hnnframe.errors import ConfigError
from hnnframe.ir import OpGraph

NODE_LABELS = ("op", "op_digits")


def node_labels(graph: OpGraph, kind: str = "op") -> list[str]:
    """Round-0 WL labels: the op type, or (``op_digits``) the op type with the digit buckets
    of the node's FLOPs and parameters, the features of the paper's eq. 3."""
    if kind == "op":
        return [n.op for n in graph.nodes]
    if kind == "op_digits":
        return [f"{n.op}/{digit_bucket(n.flops)}/{digit_bucket(n.params)}" for n in graph.nodes]
    raise ConfigError(f"unknown WL node labels {kind!r}; valid: {', '.join(NODE_LABELS)}")


def wl_histogram(graph: OpGraph, iterations: int = 3, labels_kind: str = "op") -> Counter[str]:
    """Counts of WL subtree labels over rounds 0..iterations (round 0: :func:`node_labels`)."""
    nbrs: list[list[int]] = [[] for _ in graph.nodes]
    for s, d in graph.edges:
        nbrs[s].append(d)
        nbrs[d].append(s)
    labels = node_labels(graph, labels_kind)
    hist: Counter[str] = Counter(f"0:{lab}" for lab in labels)
    for it in range(1, iterations + 1):
        new = []
        for i, lab in enumerate(labels):
            signature = lab + "|" + ",".join(sorted(labels[j] for j in nbrs[i]))
            new.append(hashlib.blake2b(signature.encode(), digest_size=8).hexdigest())
        labels = new
        hist.update(f"{it}:{lab}" for lab in labels)
    return hist
