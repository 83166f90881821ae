"""Stage 1 after the IR: merge rules, encoders, augmentation (the IR is in tests/test_ir.py,
the frontends in tests/test_frontends.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from support.models import TINY_INPUT, TinyConvNet, TinyResNet

from hnnframe.data.augment import delete_nodes
from hnnframe.encoders import NODE_ENCODERS, PaperEncoder, digit_bucket
from hnnframe.errors import ConfigError, RegistryError
from hnnframe.ir import OpGraph, OpNode
from hnnframe.merge import MERGE_RULES, MergeRule, apply_rules
from hnnframe.pipeline import graph_and_counts, graph_of


def tiny_graph() -> OpGraph:
    return graph_of(TinyConvNet(), example_input=torch.zeros(*TINY_INPUT))


def test_merge_rules_counts_and_fixpoint() -> None:
    g = graph_of(TinyResNet(8, 2), example_input=torch.zeros(*TINY_INPUT))
    merged, counts = apply_rules(g, ["conv_bn_relu", "conv_bn"])
    # stem and the first conv of each block are Conv-BN-ReLU; the second convs are Conv-BN.
    assert counts == {"conv_bn_relu": 3, "conv_bn": 2}
    assert merged.num_nodes == g.num_nodes - 2 * 3 - 1 * 2
    assert merged.op_histogram()["ConvBnRelu"] == 3
    # Applying again finds nothing: the result is a fixpoint.
    again, counts2 = apply_rules(merged, ["conv_bn_relu", "conv_bn"])
    assert again.num_nodes == merged.num_nodes and sum(counts2.values()) == 0


def test_merge_does_not_hide_branches() -> None:
    # Conv feeds both BN and another consumer: Conv-BN must not merge.
    nodes = [OpNode("Conv"), OpNode("BatchNormalization"), OpNode("Relu"), OpNode("Add")]
    g = OpGraph(nodes, [(0, 1), (1, 2), (0, 3), (2, 3)])
    merged, counts = apply_rules(g, ["conv_bn_relu", "conv_bn"])
    assert counts == {"conv_bn_relu": 0, "conv_bn": 0}
    # but BN-ReLU (exclusive link) can
    merged, counts = apply_rules(g, ["bn_relu"])
    assert counts == {"bn_relu": 1} and merged.num_nodes == 3


def test_custom_rule_registration() -> None:
    class GapFlatten(MergeRule):
        pattern = ("GlobalAveragePool", "Flatten")
        merged_op = "GapFlatten"

    name = "test_gap_flatten"
    if name not in MERGE_RULES:
        MERGE_RULES.register(name, GapFlatten)
    g, counts = graph_and_counts(
        TinyConvNet(), merge=[name], example_input=torch.zeros(*TINY_INPUT)
    )
    assert counts == {name: 1} and "GapFlatten" in g.ops()


def test_dotted_rule_name_is_imported() -> None:
    rule = MERGE_RULES.get("hnnframe.merge.ConvBnRelu")
    assert rule.merged_op == "ConvBnRelu"


def test_unknown_names_list_valid_ones() -> None:
    with pytest.raises(RegistryError, match="valid: .*conv_bn_relu"):
        MERGE_RULES.get("conv_bogus")
    with pytest.raises(ConfigError):
        NODE_ENCODERS.build({"type": "paper", "bogus_arg": 1})


@pytest.mark.parametrize(
    "x,want", [(0, 0), (0.5, 0), (1, 1), (9, 1), (97.76, 2), (123.45, 3), (10**9, 10), (10**15, 10)]
)
def test_digit_bucket(x: float, want: int) -> None:
    assert digit_bucket(x) == want


def test_paper_encoder_shapes_and_unknown_slot() -> None:
    g = tiny_graph()
    enc = PaperEncoder().fit([g.subgraph([0, 1, 2])])  # vocab without the later ops
    x = enc.encode(g)
    assert x.shape == (g.num_nodes, len(enc.vocab) + 1 + 22) == (6, 3 + 1 + 22)
    assert np.all(x.sum(axis=1) == 3)  # three one-hots per node
    assert x[3, len(enc.vocab)] == 1  # GlobalAveragePool is unknown
    restored = type(enc).from_state(json.loads(json.dumps(enc.state_dict())))
    assert np.array_equal(restored.encode(g), x)


def test_node_deletion_is_seeded() -> None:
    g = graph_of(TinyResNet(8, 3), example_input=torch.zeros(*TINY_INPUT))
    a, b, c = (
        delete_nodes(g, 0.1, seed=1),
        delete_nodes(g, 0.1, seed=1),
        delete_nodes(g, 0.1, seed=2),
    )
    k = round(0.1 * g.num_nodes)
    assert a.num_nodes == g.num_nodes - k
    assert a.to_dict() == b.to_dict() and a.to_dict() != c.to_dict()
    with pytest.raises(ConfigError):
        delete_nodes(g, 1.5)
