"""HashNet: backbone -> pooling (per layer, concatenated) -> FC1..FC5 (paper sections 3.3, 4.1.1).

FC1..FC4 have widths (348, 256, 256, 128) with ReLU between; FC5 has Q outputs and a sigmoid,
so activations lie in (0, 1) and the code is ``activation > 0.5``. FC3's output is the
continuous embedding that the topology loss (eq. 7) compares. A classification head on the
FC5 activations predicts the model category (as in SSDH, which the paper cites as its
inspiration for L_class), so the classification loss shapes the code itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from hnnframe.errors import ConfigError
from hnnframe.nn.backbones import BACKBONES
from hnnframe.nn.pooling import POOLINGS


@dataclass
class HashOutput:
    embedding: torch.Tensor  # [B, fc_dims[2]]: FC3 output, for the topology loss
    activation: torch.Tensor  # [B, Q]: sigmoid(FC5), in (0, 1)
    logits: torch.Tensor  # [B, num_classes]
    # [B, Q]: FC5 before the sigmoid; its signs are the code. Terms that must keep a gradient
    # when activations saturate (instance-level terms) work on its direction.
    pre: torch.Tensor | None = None

    def __getitem__(self, rows: slice) -> HashOutput:
        return HashOutput(
            self.embedding[rows],
            self.activation[rows],
            self.logits[rows],
            None if self.pre is None else self.pre[rows],
        )

    @property
    def code(self) -> torch.Tensor:
        return (self.activation > 0.5).to(torch.uint8)


class HashNet(nn.Module):
    """The graph hashing network H of the paper.

    Args:
        in_dim: node feature width (the encoder's ``dim``).
        bits: Q, a positive multiple of 8.
        num_classes: number of model categories for the classification head.
        backbone: a BACKBONES spec, e.g. ``{"type": "gcn", "hidden_dims": [256, 128, 64]}``.
        pooling: a POOLINGS spec, e.g. ``"gap"``.
        pool_per_layer: pool after every backbone layer and concatenate (GHashing; 448 wide
            for 256+128+64) rather than after the last layer only.
        fc_dims: widths of FC1..FC4.
        embedding_layer: which FC output (1-based) is the embedding; the paper uses FC3.
    """

    def __init__(
        self,
        in_dim: int,
        bits: int,
        num_classes: int,
        backbone: str | Mapping[str, Any] = "gcn",
        pooling: str | Mapping[str, Any] = "gap",
        pool_per_layer: bool = True,
        fc_dims: Sequence[int] = (348, 256, 256, 128),
        embedding_layer: int = 3,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not isinstance(bits, int) or bits <= 0 or bits % 8:
            raise ConfigError(f"Q (hash.bits) must be a positive multiple of 8, got {bits!r}")
        if not 1 <= embedding_layer <= len(fc_dims):
            raise ConfigError(
                f"embedding_layer must be in 1..{len(fc_dims)}, got {embedding_layer}"
            )
        self.bits = bits
        self.num_classes = num_classes
        self.pool_per_layer = pool_per_layer
        self.embedding_layer = embedding_layer
        self.backbone = BACKBONES.build(backbone, in_dim=in_dim)
        dims = self.backbone.hidden_dims if pool_per_layer else self.backbone.hidden_dims[-1:]
        self.pools = nn.ModuleList(POOLINGS.build(pooling, in_dim=d) for d in dims)
        pooled = sum(p.out_dim for p in self.pools)
        widths = [pooled, *[int(d) for d in fc_dims]]
        self.fcs = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)
        )
        self.fc_out = nn.Linear(widths[-1], bits)  # FC5
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(bits, max(num_classes, 1))

    def forward(self, graph: Any, feat: torch.Tensor | None = None) -> HashOutput:
        """Args: a batched DGLGraph and its ``[N, in_dim]`` features (default ndata["feat"])."""
        if feat is None:
            feat = graph.ndata["feat"]
        layers = self.backbone(graph, feat)
        if not self.pool_per_layer:
            layers = layers[-1:]
        h = torch.cat([pool(graph, x) for pool, x in zip(self.pools, layers, strict=True)], dim=1)
        embedding = h
        for k, fc in enumerate(self.fcs, start=1):
            h = fc(h)
            if k == self.embedding_layer:
                embedding = h
            h = self.dropout(torch.relu(h))
        pre = self.fc_out(h)
        activation = torch.sigmoid(pre)
        return HashOutput(embedding, activation, self.classifier(activation), pre)


@torch.no_grad()
def infer(
    model: Any, graphs: Sequence[Any], device: str = "cpu", batch_size: int = 64
) -> dict[str, np.ndarray]:
    """Hash DGL graphs in eval mode: codes (0/1), activations, embeddings, predicted labels."""
    from hnnframe.dgl_compat import dgl

    model.eval()
    acts, embs, preds = [], [], []
    for i in range(0, len(graphs), batch_size):
        bg = dgl.batch(list(graphs[i : i + batch_size])).to(device)
        out = model(bg)
        acts.append(out.activation.cpu())
        embs.append(out.embedding.cpu())
        preds.append(out.logits.argmax(1).cpu())
    act = torch.cat(acts).numpy() if acts else np.zeros((0, model.bits), np.float32)
    return {
        "activation": act,
        "codes": (act > 0.5).astype(np.uint8),
        "embedding": torch.cat(embs).numpy() if embs else np.zeros((0, 1), np.float32),
        "pred": torch.cat(preds).numpy() if preds else np.zeros((0,), np.int64),
    }
