"""The pairwise objective of HNN-Net (paper section 3.4, eqs. 6-9) as a registry of terms.

L(M1, M2) = alpha * L_topo + beta * L_class + gamma * L_quant                      (eq. 6)

* ``topo`` (eq. 7): (||FC3(M1) - FC3(M2)||^2 - min(GED(M1, M2), R))^2. The GED of these
  graphs is in the hundreds while a squared embedding distance starts near 0, so the target
  can be normalised (``ged_norm``: none, mean_size as in SimGNN's nGED, max_size) and scaled
  before the cap R (``cap``). Both are recipe parameters (docs/training.md says what works).
* ``class`` (eq. 8): cross-entropy of both models' category labels.
* ``quant`` (eq. 9): -(||FC5(M1) - 1/2||_1 + ||FC5(M2) - 1/2||_1). Minimising it *increases*
  the distance of every activation from 1/2, i.e. pushes it to 0 or 1; the printed sign is
  right (tests/test_losses.py checks the gradient direction). It is bounded below by -Q.
* ``binary_reg``: GHashing's binary regulariser, the squared distance of each activation to
  its nearest bit, used by the GHashing baseline recipe in place of ``quant``.

Every term returns the mean over the pairs of a batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hnnframe.errors import ConfigError
from hnnframe.losses.base import LOSSES, LossTerm, PairBatch, normalise_ged
from hnnframe.nn import HashOutput


@LOSSES.register("topo")
class TopoLoss(LossTerm):
    """Eq. 7 with target min(scale * norm(GED), cap).

    ``compare: embedding`` (the paper) compares FC3 outputs. ``compare: code`` compares the sigmoid(FC5)
    activations instead, whose squared distance is a relaxed Hamming distance: the topology
    then shapes the bits themselves, which FC3 alone does not (docs/results.md shows the codes
    of the recipes without L_class collapsing when only FC3 is constrained). ``compare: angle``
    compares the directions of FC5's pre-activations: ``(1 - cos) / 2``, the expected share of
    differing sign bits, against a target that is a share of Q too; it keeps its gradient when
    the sigmoid saturates.
    """

    def __init__(
        self,
        ged_norm: str = "none",
        scale: float = 1.0,
        cap: float = 10.0,
        compare: str = "embedding",
        per_bit: bool = False,
    ) -> None:
        super().__init__()
        # per_bit: target and cap are fractions of Q, so one recipe serves every code length.
        self.per_bit = per_bit
        normalise_ged(torch.zeros(1), torch.ones(1), torch.ones(1), ged_norm)  # validate early
        if compare not in ("embedding", "code", "angle"):
            raise ConfigError(
                f"loss.topo.compare must be embedding, code or angle, got {compare!r}"
            )
        self.ged_norm, self.scale, self.cap, self.compare = (
            ged_norm,
            float(scale),
            float(cap),
            compare,
        )

    def target(self, batch: PairBatch) -> torch.Tensor:
        t = normalise_ged(batch.ged, batch.size1, batch.size2, self.ged_norm) * self.scale
        return t.clamp(max=self.cap)

    def forward(self, o1: HashOutput, o2: HashOutput, batch: PairBatch) -> torch.Tensor:
        target = self.target(batch)
        if self.compare == "angle":
            z1, z2 = (o.pre if o.pre is not None else 2 * o.activation - 1 for o in (o1, o2))
            share = (1 - F.cosine_similarity(z1, z2, dim=1)) / 2
            return (share - target).pow(2).mean()
        if self.per_bit:
            target = target * o1.activation.shape[1]
        a, b = (
            (o1.embedding, o2.embedding)
            if self.compare == "embedding"
            else (o1.activation, o2.activation)
        )
        dist = (a - b).pow(2).sum(dim=1)
        return (dist - target).pow(2).mean()


@LOSSES.register("class")
class ClassLoss(LossTerm):
    """Eq. 8: cross-entropy of both models' labels (summed over the pair)."""

    def forward(self, o1: HashOutput, o2: HashOutput, batch: PairBatch) -> torch.Tensor:
        return F.cross_entropy(o1.logits, batch.labels1) + F.cross_entropy(o2.logits, batch.labels2)


@LOSSES.register("quant")
class QuantLoss(LossTerm):
    """Eq. 9: minus the L1 distance of the FC5 activations from 1/2, summed over the pair."""

    def forward(self, o1: HashOutput, o2: HashOutput, batch: PairBatch) -> torch.Tensor:
        d1 = (o1.activation - 0.5).abs().sum(dim=1)
        d2 = (o2.activation - 0.5).abs().sum(dim=1)
        return -(d1 + d2).mean()


@LOSSES.register("binary_reg")
class BinaryRegLoss(LossTerm):
    """GHashing's regulariser: squared distance of each activation to its nearest bit."""

    def forward(self, o1: HashOutput, o2: HashOutput, batch: PairBatch) -> torch.Tensor:
        def reg(a: torch.Tensor) -> torch.Tensor:
            return (0.5 - (a - 0.5).abs()).pow(2).sum(dim=1)

        return (reg(o1.activation) + reg(o2.activation)).mean()
