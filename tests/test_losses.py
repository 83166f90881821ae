"""hnnframe.losses: the terms of eq. 6-9 and their weighted sum."""

from __future__ import annotations

import pytest
import torch

from hnnframe.errors import ConfigError
from hnnframe.losses import HashLoss, PairBatch, QuantLoss
from hnnframe.nn.hashnet import HashOutput


def test_quant_loss_pushes_activations_away_from_half() -> None:
    # Minimising eq. 9 must move an activation of 0.6 up and one of 0.4 down.
    a = torch.tensor([[0.6, 0.4]], requires_grad=True)
    o = HashOutput(torch.zeros(1, 2), a, torch.zeros(1, 2))
    QuantLoss()(o, o, None).backward()  # type: ignore[arg-type]
    assert a.grad is not None
    assert a.grad[0, 0] < 0 < a.grad[0, 1]  # gradient descent: 0.6 grows, 0.4 shrinks


def test_topo_loss_matches_eq7() -> None:
    crit = HashLoss(
        {
            "alpha": 1,
            "beta": 0,
            "gamma": 0,
            "topo": {"type": "topo", "ged_norm": "none", "cap": 5.0},
        }
    )
    e1, e2 = torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 2.0]])  # squared distance 5
    z = torch.zeros(1, 8)
    o1, o2 = HashOutput(e1, z + 0.5, torch.zeros(1, 2)), HashOutput(e2, z + 0.5, torch.zeros(1, 2))
    pb = PairBatch(
        torch.tensor([0]),
        torch.tensor([1]),
        torch.tensor([9.0]),
        torch.tensor([10.0]),
        torch.tensor([10.0]),
    )
    total, parts = crit(o1, o2, pb)
    assert parts["topo"] == pytest.approx((5 - 5) ** 2)  # min(9, R=5) = 5
    pb.ged = torch.tensor([2.0])
    total, parts = crit(o1, o2, pb)
    assert parts["topo"] == pytest.approx((5 - 2) ** 2) and float(total) == pytest.approx(9.0)


def test_topo_loss_on_code_uses_activations_and_per_bit_targets() -> None:
    crit = HashLoss(
        {
            "alpha": 1,
            "beta": 0,
            "gamma": 0,
            "topo": {
                "type": "topo",
                "compare": "code",
                "ged_norm": "mean_size",
                "scale": 0.25,
                "cap": 0.5,
                "per_bit": True,
            },
        }
    )
    a1, a2 = torch.zeros(1, 8), torch.zeros(1, 8)
    a2[0, :2] = 1.0  # squared distance 2
    emb = torch.randn(1, 4)  # ignored when comparing codes
    o1, o2 = HashOutput(emb, a1, torch.zeros(1, 2)), HashOutput(-emb, a2, torch.zeros(1, 2))
    pb = PairBatch(
        torch.tensor([0]),
        torch.tensor([0]),
        torch.tensor([4.0]),
        torch.tensor([8.0]),
        torch.tensor([8.0]),
    )
    # nGED = 4 / 8 = 0.5; target = min(0.25 * 0.5, 0.5) * Q = 0.125 * 8 = 1
    _, parts = crit(o1, o2, pb)
    assert parts["topo"] == pytest.approx((2 - 1) ** 2)
    with pytest.raises(ConfigError):
        HashLoss({"topo": {"type": "topo", "compare": "fc9"}})


def _out(pre: torch.Tensor) -> HashOutput:
    return HashOutput(torch.zeros(len(pre), 4), torch.sigmoid(pre), torch.zeros(len(pre), 2), pre)


def _batch(i1: list[int], i2: list[int]) -> PairBatch:
    n = len(i1)
    z = torch.zeros(n)
    return PairBatch(
        torch.zeros(n, dtype=torch.long),
        torch.zeros(n, dtype=torch.long),
        z,
        z + 1,
        z + 1,
        torch.tensor(i1),
        torch.tensor(i2),
    )


def test_instance_terms_keep_a_gradient_when_activations_saturate() -> None:
    from hnnframe.losses.instance import BatchContrastiveLoss, InstanceProxyLoss

    pre = torch.tensor([[30.0, -30.0, 30.0, 30.0], [30.0, -30.0, 30.0, 20.0]], requires_grad=True)
    o1, o2 = _out(pre[:1]), _out(pre[1:])
    assert bool(((o1.activation > 0.999) | (o1.activation < 0.001)).all())  # saturated
    for term in (InstanceProxyLoss(num_instances=3, bits=4), BatchContrastiveLoss(margin=0.25)):
        loss = term(o1, o2, _batch([0], [1]))  # two architectures with the same code
        (g,) = torch.autograd.grad(loss, pre)
        assert loss > 0 and g.abs().sum() > 0, type(term).__name__


def test_batch_contrastive_by_hand() -> None:
    from hnnframe.losses.instance import BatchContrastiveLoss

    a = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    b = torch.tensor([[1.0, 1.0, -1.0, -1.0]])  # orthogonal: angular distance 1/2
    term = BatchContrastiveLoss(margin=0.75)
    # different architectures: relu(0.75 - 0.5) = 0.25; same architecture: d = 0.5
    assert float(term(_out(a), _out(b), _batch([0], [1]))) == pytest.approx(0.25)
    assert float(term(_out(a), _out(b), _batch([2], [2]))) == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="margin"):
        BatchContrastiveLoss(margin=0)


def test_topo_angle_compares_the_share_of_differing_signs() -> None:
    from hnnframe.losses import TopoLoss

    a = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    b = -a  # opposite: share 1
    batch = _batch([0], [1])
    batch.ged = torch.tensor([0.4])
    term = TopoLoss(compare="angle", scale=1.0, cap=1.0)
    assert float(term(_out(a), _out(b), batch)) == pytest.approx((1 - 0.4) ** 2)
