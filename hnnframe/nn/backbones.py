"""GNN backbones on dgl.nn: stacks of GCN, GAT or GIN layers (paper section 3.3, eq. 4).

Every backbone is called as ``forward(graph, feat)`` and returns the node representations
after each layer, ``[N x hidden_dims[0], ..., N x hidden_dims[-1]]``, so that pooling can run
per layer (GHashing) or on the last layer only. The paper uses widths 256, 128, 64.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from hnnframe.dgl_compat import dglnn
from hnnframe.registry import Registry

BACKBONES: Registry[Backbone] = Registry("backbone")


class Backbone(nn.Module):
    """Base class: a stack of graph layers with widths ``hidden_dims``."""

    def __init__(
        self, in_dim: int, hidden_dims: Sequence[int] = (256, 128, 64), dropout: float = 0.0
    ):
        super().__init__()
        self.in_dim = in_dim
        self.hidden_dims = [int(d) for d in hidden_dims]
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            self.make_layer(i, o)
            for i, o in zip([in_dim, *self.hidden_dims[:-1]], self.hidden_dims, strict=True)
        )

    def make_layer(self, in_dim: int, out_dim: int) -> nn.Module:
        raise NotImplementedError

    def apply_layer(self, layer: nn.Module, graph: Any, h: torch.Tensor) -> torch.Tensor:
        return layer(graph, h)

    def forward(self, graph: Any, feat: torch.Tensor) -> list[torch.Tensor]:
        """Args: graph, a (batched) DGLGraph; feat, ``[N, in_dim]``. Returns per-layer ``[N, d_l]``."""
        outs = []
        h = feat
        for k, layer in enumerate(self.layers):
            h = self.apply_layer(layer, graph, h)
            h = torch.relu(h)
            if k < len(self.layers) - 1:
                h = self.dropout(h)
            outs.append(h)
        return outs


@BACKBONES.register("gcn")
class GCNBackbone(Backbone):
    """Graph convolutions (Kipf & Welling 2017, arXiv:1609.02907), as in the paper.

    Graphs need self loops (``OpGraph.to_dgl`` adds them) so isolated nodes keep degree > 0.
    """

    def make_layer(self, in_dim: int, out_dim: int) -> nn.Module:
        return dglnn.GraphConv(in_dim, out_dim, norm="both", allow_zero_in_degree=True)


@BACKBONES.register("gat")
class GATBackbone(Backbone):
    """Graph attention layers (Velickovic et al. 2018, arXiv:1710.10903); heads are averaged."""

    def __init__(
        self,
        in_dim: int,
        hidden_dims: Sequence[int] = (256, 128, 64),
        dropout: float = 0.0,
        num_heads: int = 4,
    ) -> None:
        self.num_heads = num_heads
        super().__init__(in_dim, hidden_dims, dropout)

    def make_layer(self, in_dim: int, out_dim: int) -> nn.Module:
        return dglnn.GATConv(in_dim, out_dim, self.num_heads, allow_zero_in_degree=True)

    def apply_layer(self, layer: nn.Module, graph: Any, h: torch.Tensor) -> torch.Tensor:
        return layer(graph, h).mean(dim=1)  # [N, heads, out] -> [N, out]


@BACKBONES.register("gin")
class GINBackbone(Backbone):
    """Graph isomorphism layers (Xu et al. 2019, arXiv:1810.00826) with 2-layer MLPs."""

    def make_layer(self, in_dim: int, out_dim: int) -> nn.Module:
        mlp = nn.Sequential(nn.Linear(in_dim, out_dim), nn.ReLU(), nn.Linear(out_dim, out_dim))
        return dglnn.GINConv(mlp, aggregator_type="sum", learn_eps=True)
