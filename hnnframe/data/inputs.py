"""The network's inputs: a dataset's splits as DGL graphs with encoded node features.

Copies of held-out architectures (``data.holdout``) are queried against the training set with
category relevance (the unseen-architecture protocol), so their labels are the training
categories' ids, -1 for a category that training never saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from hnnframe.data.dataset import GraphDataset, Sample
from hnnframe.dgl_compat import to_dgl
from hnnframe.encoders import NodeEncoder


@dataclass
class Encoded:
    graphs: list[Any]  # DGLGraphs with ndata["feat"]
    labels: torch.Tensor
    sizes: torch.Tensor


@dataclass
class Splits:
    """Training copies (also the retrieval database), test copies and unseen copies."""

    train: Encoded
    test: Encoded
    unseen: Encoded


def encode_samples(samples: Sequence[Sample], encoder: NodeEncoder) -> Encoded:
    graphs = [to_dgl(s.graph, encoder.encode(s.graph)) for s in samples]
    labels = torch.tensor([s.label for s in samples], dtype=torch.long)
    sizes = torch.tensor([s.graph.num_nodes for s in samples], dtype=torch.float32)
    return Encoded(graphs, labels, sizes)


def encode_splits(ds: GraphDataset, encoder: NodeEncoder) -> Splits:
    train = encode_samples(ds.train, encoder)
    test = encode_samples(ds.test, encoder)
    unseen = encode_samples(ds.unseen, encoder)
    label_of = {c: i for i, c in enumerate(ds.categories)}
    unseen.labels = torch.tensor(
        [label_of.get(s.category, -1) for s in ds.unseen], dtype=torch.long
    )
    return Splits(train, test, unseen)
