"""Instance-level terms: every architecture its own class (instance-level hashing issue).

The paper's L_class (eq. 8) learns one code per *category*, so every ResNet gets the same code.
A platform needs one code per *network* whose transformed and node-deleted copies stay on it:

* ``instance_proxy``: a normalised-softmax (CosFace) classifier over architectures on the
  relaxed code ``u = 2 * sigmoid(FC5) - 1``, with one learnable proxy per architecture (Movshovitz-
  Attias et al., "No Fuss Distance Metric Learning using Proxies", ICCV 2017; Wang et al.,
  CosFace, CVPR 2018). Copies of an architecture are pulled to its proxy, proxies repel each
  other, so the sign patterns of different architectures separate.
* ``batch_contrastive``: a margin loss on the relaxed Hamming distance between every two graphs
  of a batch (both sides of every pair): copies of one architecture at distance 0, graphs of
  two architectures at least ``margin * Q`` apart. The pair sampler draws a share of partners
  from the same family, so this term sees the hard cases: siblings such as resnet18/resnet34.

Both act on the code itself (FC5), not on FC3, so the bits are what they shape.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hnnframe.errors import ConfigError
from hnnframe.losses.base import LOSSES, LossTerm, PairBatch
from hnnframe.nn import HashOutput


def _instances(batch: PairBatch) -> tuple[torch.Tensor, torch.Tensor]:
    if batch.instance1 is None or batch.instance2 is None:
        raise ConfigError("instance-level loss terms need architecture ids (the trainer's)")
    return batch.instance1, batch.instance2


@LOSSES.register("instance_proxy")
class InstanceProxyLoss(LossTerm):
    """CosFace over one proxy per training architecture, on the relaxed code.

    Args:
        num_instances: number of training architectures (given by the trainer).
        bits: Q (given by the trainer).
        scale: the softmax scale ``s``.
        margin: the additive cosine margin ``m``.
    """

    def __init__(
        self, num_instances: int, bits: int, scale: float = 16.0, margin: float = 0.2
    ) -> None:
        super().__init__()
        if num_instances < 2:
            raise ConfigError("instance_proxy needs at least two training architectures")
        self.scale, self.margin = float(scale), float(margin)
        self.proxies = nn.Parameter(torch.randn(int(num_instances), int(bits)))

    def logits(self, activation: torch.Tensor) -> torch.Tensor:
        u = F.normalize(2 * activation - 1, dim=1)
        return u @ F.normalize(self.proxies, dim=1).T

    def forward(self, o1: HashOutput, o2: HashOutput, batch: PairBatch) -> torch.Tensor:
        i1, i2 = _instances(batch)
        act = torch.cat([o1.activation, o2.activation])
        target = torch.cat([i1, i2])
        cos = self.logits(act)
        cos = cos - self.margin * F.one_hot(target, cos.shape[1]).to(cos.dtype)
        return F.cross_entropy(self.scale * cos, target)


@LOSSES.register("batch_contrastive")
class BatchContrastiveLoss(LossTerm):
    """Relaxed-Hamming margin loss over every two graphs of the batch.

    ``d(a, b) = sum |a - b|`` of sigmoid activations (the Hamming distance of the codes when
    they are binary). Same architecture: ``d``; different: ``relu(margin * Q - d)``; both
    averaged over their pairs and added.
    """

    def __init__(self, margin: float = 0.125) -> None:
        super().__init__()
        if not 0.0 < margin <= 1.0:
            raise ConfigError(f"batch_contrastive margin is a share of Q in (0, 1], got {margin}")
        self.margin = float(margin)

    def forward(self, o1: HashOutput, o2: HashOutput, batch: PairBatch) -> torch.Tensor:
        i1, i2 = _instances(batch)
        act = torch.cat([o1.activation, o2.activation])
        ids = torch.cat([i1, i2])
        d = torch.cdist(act, act, p=1)
        same = ids[:, None] == ids[None, :]
        off = ~torch.eye(len(ids), dtype=torch.bool, device=act.device)
        pos, neg = same & off, ~same
        q = act.shape[1]
        loss = torch.zeros((), device=act.device)
        if pos.any():
            loss = loss + d[pos].mean() / q
        if neg.any():
            loss = loss + F.relu(self.margin * q - d[neg]).mean() / q
        return loss
