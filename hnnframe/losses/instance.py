"""Instance-level terms: every architecture its own class (instance-level hashing issue).

The paper's L_class (eq. 8) learns one code per *category*, so every ResNet gets the same code.
A platform needs one code per *network* whose transformed and node-deleted copies stay on it:

* ``instance_proxy``: a normalised-softmax (CosFace) classifier over architectures on the
  direction of the code's pre-activation ``z = FC5(...)`` (the code is ``sign(z)``), with one
  learnable proxy per architecture (Movshovitz-Attias et al., "No Fuss Distance Metric
  Learning using Proxies", ICCV 2017; Wang et al., CosFace, CVPR 2018). Copies of an
  architecture are pulled to its proxy, proxies repel each other, so the sign patterns of
  different architectures separate.
* ``batch_contrastive``: a margin loss on the angular distance ``(1 - cos(z_a, z_b)) / 2``
  between every two graphs of a batch (both sides of every pair): copies of one architecture
  at 0, two architectures at least ``margin`` apart. For sign codes of random-looking ``z`` the
  angular distance is the expected share of differing bits (Charikar's SimHash argument), so
  ``margin`` reads as a share of Q. The pair sampler draws a share of partners from the same
  family, so this term sees the hard cases: siblings such as resnet18/resnet34.

Both act on the code's layer (FC5), not on FC3, and on directions rather than on sigmoid
activations, which saturate (eq. 9 pushes them to 0 and 1) and would stop every gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hnnframe.errors import ConfigError
from hnnframe.losses.base import LOSSES, LossTerm, PairBatch
from hnnframe.nn import HashOutput


def _directions(o1: HashOutput, o2: HashOutput) -> torch.Tensor:
    """Unit vectors of both sides' code pre-activations (or of 2a - 1 without them)."""
    z = [o.pre if o.pre is not None else 2 * o.activation - 1 for o in (o1, o2)]
    return F.normalize(torch.cat(z), dim=1)


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

    def forward(self, o1: HashOutput, o2: HashOutput, batch: PairBatch) -> torch.Tensor:
        i1, i2 = _instances(batch)
        target = torch.cat([i1, i2])
        cos = _directions(o1, o2) @ F.normalize(self.proxies, dim=1).T
        cos = cos - self.margin * F.one_hot(target, cos.shape[1]).to(cos.dtype)
        return F.cross_entropy(self.scale * cos, target)


@LOSSES.register("batch_contrastive")
class BatchContrastiveLoss(LossTerm):
    """Angular margin loss over every two graphs of the batch.

    ``d(a, b) = (1 - cos(z_a, z_b)) / 2`` in [0, 1]. Same architecture: ``d``; different:
    ``relu(margin - d)``; both averaged over their pairs and added.
    """

    def __init__(self, margin: float = 0.125) -> None:
        super().__init__()
        if not 0.0 < margin <= 1.0:
            raise ConfigError(f"batch_contrastive margin is a share of Q in (0, 1], got {margin}")
        self.margin = float(margin)

    def forward(self, o1: HashOutput, o2: HashOutput, batch: PairBatch) -> torch.Tensor:
        i1, i2 = _instances(batch)
        u = _directions(o1, o2)
        ids = torch.cat([i1, i2])
        d = (1 - u @ u.T) / 2
        same = ids[:, None] == ids[None, :]
        off = ~torch.eye(len(ids), dtype=torch.bool, device=u.device)
        pos, neg = same & off, ~same
        loss = torch.zeros((), device=u.device)
        if pos.any():
            loss = loss + d[pos].mean()
        if neg.any():
            loss = loss + F.relu(self.margin - d[neg]).mean()
        return loss
