"""Graph-level readouts (paper section 3.3, eq. 5).

``gap`` is graph attention pooling as in SimGNN (Bai et al. 2019) and GHashing: a global
context from the mean node embedding, a per-node sigmoid attention against it, and the
attention-weighted sum (DGL's GlobalAttentionPooling gates with a softmax instead, which is
not the paper's GAP). ``mean``, ``sum`` and ``max`` are DGL's own readouts. Every pooling is built with the node dimension ``in_dim`` and exposes
``out_dim``; ``forward(graph, feat)`` maps ``[N, in_dim]`` to ``[B, out_dim]``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hnnframe.dgl_compat import dgl, dglnn
from hnnframe.registry import Registry

POOLINGS: Registry[Pooling] = Registry("pooling")


class Pooling(nn.Module):
    def __init__(self, in_dim: int) -> None:
        super().__init__()
        self.in_dim = in_dim

    @property
    def out_dim(self) -> int:
        return self.in_dim


@POOLINGS.register("gap")
class AttentionPooling(Pooling):
    """SimGNN/GHashing attention: c = tanh(W mean(U)); a_i = sigmoid(u_i . c); h = sum a_i u_i."""

    def __init__(self, in_dim: int) -> None:
        super().__init__(in_dim)
        self.weight = nn.Linear(in_dim, in_dim, bias=False)
        nn.init.xavier_uniform_(self.weight.weight)

    def forward(self, graph: Any, feat: torch.Tensor) -> torch.Tensor:
        with graph.local_scope():
            graph.ndata["h"] = feat
            context = torch.tanh(self.weight(dgl.mean_nodes(graph, "h")))  # [B, D]
            ctx_nodes = dgl.broadcast_nodes(graph, context)  # [N, D]
            graph.ndata["a"] = torch.sigmoid((feat * ctx_nodes).sum(dim=1, keepdim=True))
            return dgl.sum_nodes(graph, "h", weight="a")


class _DGLReadout(Pooling):
    """A parameter-free DGL readout (``dgl.nn`` AvgPooling, SumPooling, MaxPooling)."""

    readout_cls: Any = None

    def __init__(self, in_dim: int) -> None:
        super().__init__(in_dim)
        self.readout = self.readout_cls()

    def forward(self, graph: Any, feat: torch.Tensor) -> torch.Tensor:
        return self.readout(graph, feat)


@POOLINGS.register("mean")
class MeanPooling(_DGLReadout):
    readout_cls = dglnn.AvgPooling


@POOLINGS.register("sum")
class SumPooling(_DGLReadout):
    readout_cls = dglnn.SumPooling


@POOLINGS.register("max")
class MaxPooling(_DGLReadout):
    readout_cls = dglnn.MaxPooling


@POOLINGS.register("set2set")
class Set2SetPooling(Pooling):
    """Set2Set (Vinyals et al. 2016) through dgl.nn; the output is twice the node dimension."""

    def __init__(self, in_dim: int, n_iters: int = 2, n_layers: int = 1) -> None:
        super().__init__(in_dim)
        self.s2s = dglnn.Set2Set(in_dim, n_iters, n_layers)

    @property
    def out_dim(self) -> int:
        return 2 * self.in_dim

    def forward(self, graph: Any, feat: torch.Tensor) -> torch.Tensor:
        return self.s2s(graph, feat)
