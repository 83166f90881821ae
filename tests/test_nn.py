"""hnnframe.nn: HashNet (paper section 3.3), backbones and poolings on real DGL layers."""

from __future__ import annotations

import pytest
import torch

from hnnframe.dgl_compat import dgl
from hnnframe.errors import ConfigError
from hnnframe.nn import HashNet


def toy_batch(n_graphs: int = 4, in_dim: int = 7) -> tuple[object, torch.Tensor]:
    gs = [
        dgl.add_self_loop(dgl.graph(([0, 1, 2], [1, 2, 3]), num_nodes=4)) for _ in range(n_graphs)
    ]
    return dgl.batch(gs), torch.randn(4 * n_graphs, in_dim)


@pytest.mark.parametrize("bits", [8, 16, 32, 64, 128, 256])
def test_hashnet_any_multiple_of_8(bits: int) -> None:
    g, x = toy_batch()
    out = HashNet(7, bits, 3)(g, x)
    assert out.activation.shape == (4, bits) and out.code.dtype == torch.uint8
    assert out.embedding.shape == (4, 256) and out.logits.shape == (4, 3)
    assert ((out.activation > 0) & (out.activation < 1)).all()


@pytest.mark.parametrize("bits", [0, 12, -8])
def test_bad_q_is_a_config_error(bits: int) -> None:
    with pytest.raises(ConfigError, match="multiple of 8"):
        HashNet(7, bits, 3)


def test_fc1_input_is_448_with_per_layer_gap() -> None:
    net = HashNet(7, 32, 3, backbone={"type": "gcn", "hidden_dims": [256, 128, 64]}, pooling="gap")
    assert net.fcs[0].in_features == 448
    assert [fc.out_features for fc in net.fcs] == [
        348,
        256,
        256,
        128,
    ] and net.fc_out.out_features == 32
