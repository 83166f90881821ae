"""Derived architectures (hnnframe/variants/derived.py): each is another architecture close to
its source (a new head, one layer fewer, a wider vocabulary, narrower MLPs, an unmerged
adapter), exported as the reference is; none is a copy, so the robustness suite and training
refuse them."""

from __future__ import annotations

import pytest
import torch
from support.hub import ops, prepared, reference, same_after, source, variant

from hnnframe.errors import ConfigError
from hnnframe.variants import (
    VariantUnavailable,
    copy_transforms,
    derived_transforms,
    make_variant,
)
from hnnframe.variants.derived import head_outputs
from hnnframe.variants.pruning import forward_ok, prune_mlps

# (source, derived kind) pairs that apply, each one tiny export.
CASES = [
    ("timm:test_vit", "new_head"),
    ("timm:test_vit", "layer_drop"),
    ("timm:test_vit", "width_pruned"),
    ("timm:test_vit", "adapter_unmerged"),
    ("hf:bert:tiny", "new_head"),
    ("hf:bert:tiny", "layer_drop"),
    ("hf:bert:tiny", "vocab_extended"),
    ("hf:bert:tiny", "width_pruned"),
    ("hf:bert:tiny", "adapter_unmerged"),
    ("hf:llama:tiny", "new_head"),
    ("hf:gpt2:tiny", "adapter_unmerged"),
]


def shared_ops(spec: str, kind: str) -> float:
    """The share of the reference's operators (as a multiset) the derived graph keeps."""
    ref, got = ops(reference(spec)), ops(variant(spec, kind))
    return sum((ref & got).values()) / sum(ref.values())


@pytest.mark.parametrize(("spec", "kind"), CASES)
def test_a_derived_architecture_differs_from_its_source_but_stays_close(
    spec: str, kind: str
) -> None:
    ref, got = reference(spec), variant(spec, kind)
    assert got.structure_hash() != ref.structure_hash()
    assert not same_after(spec, kind)  # not a copy, even after the robust passes
    assert prepared(got).total_params != prepared(ref).total_params
    # A tiny model has two layers, so dropping one removes a third of its operators.
    assert shared_ops(spec, kind) >= (0.55 if kind == "layer_drop" else 0.95)


def test_what_each_kind_changes() -> None:
    vit, vit_ref = "timm:test_vit", reference("timm:test_vit")
    # width and depth: the same operators, fewer parameters; one block fewer
    assert variant(vit, "width_pruned").num_nodes == vit_ref.num_nodes
    assert variant(vit, "width_pruned").total_params < vit_ref.total_params
    assert ops(variant(vit, "layer_drop"))["Softmax"] == ops(vit_ref)["Softmax"] - 1
    # six blocks, one fused qkv each: two more MatMuls and one more Add per block
    assert ops(variant(vit, "adapter_unmerged"))["MatMul"] == ops(vit_ref)["MatMul"] + 12
    # BertModel becomes BertForSequenceClassification: a classifier on the pooler
    assert (
        ops(variant("hf:bert:tiny", "new_head"))["Gemm"]
        == ops(reference("hf:bert:tiny"))["Gemm"] + 1
    )
    bert = reference("hf:bert:tiny")
    wider = variant("hf:bert:tiny", "vocab_extended")
    # 128 tokens + 8% is 144 (a multiple of 8): 16 more rows of 32 in the embedding
    assert wider.total_params - bert.total_params == 16 * 32
    # GPT-2's c_attn is a transformers Conv1D: adapted too (two layers, two MatMuls each)
    gpt2 = ops(variant("hf:gpt2:tiny", "adapter_unmerged"))
    assert gpt2["MatMul"] == ops(reference("hf:gpt2:tiny"))["MatMul"] + 4
    assert head_outputs(1000) == 10 and head_outputs(10) == 5


@pytest.mark.parametrize(
    ("spec", "kind", "why"),
    [
        ("timm:test_vit", "vocab_extended", "vocabulary"),
        ("timm:test_resnet", "width_pruned", "no fc1/fc2"),
        ("timm:test_resnet", "adapter_unmerged", "no Linear layer but the head"),
        ("timm:test_resnet", "layer_drop", "no block can be dropped"),
    ],
)
def test_kinds_that_do_not_apply_are_unavailable(spec: str, kind: str, why: str) -> None:
    with pytest.raises(VariantUnavailable, match=why):
        make_variant(kind, source(spec))


def test_timm_mlps_are_pruned_with_their_norms_and_gate_halves() -> None:
    from timm.layers import ConvMlp, GlobalResponseNormMlp, GluMlp

    glu = GluMlp(16, 32, norm_layer=torch.nn.LayerNorm).eval()
    x = torch.randn(2, 5, 16)
    assert prune_mlps(glu, 0.75) == 1 and forward_ok(glu, x)
    # value and gate halves keep the same 12 of 16 units each
    assert glu.fc1.out_features == 24 and glu.fc2.in_features == 12
    assert glu.norm.normalized_shape == (12,)
    conv = ConvMlp(16, 32, norm_layer=torch.nn.BatchNorm2d).eval()
    assert prune_mlps(conv, 0.75) == 1 and forward_ok(conv, torch.randn(2, 16, 4, 4))
    assert conv.fc1.out_channels == 24 and conv.norm.running_mean.shape == (24,)
    # a parametrised layer between fc1 and fc2 that is no norm: left alone
    assert prune_mlps(GlobalResponseNormMlp(16, 32), 0.75) == 0


def test_derived_kinds_are_no_copies() -> None:
    from hnnframe.data.dataset import variant_graphs
    from hnnframe.robustness import resolve_transforms

    assert set(derived_transforms()).isdisjoint(resolve_transforms("all"))
    assert resolve_transforms("all") == copy_transforms()
    with pytest.raises(ConfigError, match="derived architecture, not a copy"):
        resolve_transforms("dynamo,layer_drop")
    with pytest.raises(ConfigError, match="derived architecture, not a copy"):
        variant_graphs({"variants": ["new_head"]}, [])
