"""hnnframe/canonical/fused.py: late-opset and onnxruntime contrib fusions as their decomposed
spelling with ir FLOPs, on real exports of tiny timm and transformers models
(tests/support/hub.py)."""

from __future__ import annotations

from support.hub import ops, prepared, reference, same_after, variant

from hnnframe.canonical import apply_canonical
from hnnframe.ir import OpGraph


def test_opset23_rmsnorm_and_attention_get_their_flops() -> None:
    raw = variant("hf:llama:tiny", "dynamo_opset23")
    native = [n for n in raw.nodes if n.op in ("RMSNormalization", "Attention")]
    assert native and all(n.flops == 0 for n in native)  # no ir rule: unknown
    g = apply_canonical(raw, ["fold_constants", "normalise_fused"])
    assert all(n.flops > 0 for n in g.nodes if n.op in ("RMSNormalization", "Attention"))
    assert same_after("hf:llama:tiny", "dynamo_opset23")
    assert same_after("timm:test_vit", "dynamo_opset23")


def test_onnxruntime_transformer_fusions_of_pre_norm_networks() -> None:
    # SkipLayerNormalization (residual Add + LayerNorm + the MatMul's bias), BiasGelu,
    # SkipSimplifiedLayerNormalization (Llama's RMSNorm), FastGelu (GPT-2).
    for spec, fused in (
        ("timm:test_vit", "SkipLayerNormalization"),
        ("hf:llama:tiny", "SkipSimplifiedLayerNormalization"),
        ("hf:gpt2:tiny", "FastGelu"),
    ):
        assert ops(variant(spec, "ort_transformer"))[fused], spec
        assert same_after(spec, "ort_transformer"), spec


def test_onnxruntime_extended_level() -> None:
    # FusedMatMul (the keys' Transpose and the scale fused in), contrib Gelu, QuickGelu
    # (SiLU), SkipLayerNormalization; the shapes after FusedMatMul are completed.
    for spec in ("timm:test_vit", "hf:llama:tiny", "hf:gpt2:tiny"):
        assert same_after(spec, "ort_extended"), spec
    g = prepared(variant("hf:llama:tiny", "ort_extended"))
    assert ops(g) == ops(prepared(reference("hf:llama:tiny")))


def test_onnxruntime_fused_conv_keeps_its_activation() -> None:
    # FusedConv carries the Relu onnxruntime fused into it as an attribute: the IR records
    # it and normalise_fused gives it back, so conv_relu merges the pair as in the export.
    raw = variant("timm:test_resnet", "ort_extended")
    fused = [n for n in raw.nodes if n.op == "FusedConv"]
    assert fused and all(n.activation == "Relu" for n in fused)
    assert OpGraph.from_dict(raw.to_dict()).nodes == raw.nodes  # the field round-trips
    assert same_after("timm:test_resnet", "ort_extended")


def test_post_norm_skip_norms_of_bert() -> None:
    # BERT is post-norm: its Skip norms have no sum output, so every consumer reads the norm
    # (OpNode.sum_out). At the extended level the token-type embedding row also becomes a
    # constant skip input; its parameters stay on the residual Add, not on the norm.
    raw = variant("hf:bert:tiny", "ort_extended")
    skips = [n for n in raw.nodes if n.op == "SkipLayerNormalization"]
    assert skips and not any(n.sum_out for n in skips)
    assert any(n.sum_out for n in variant("timm:test_vit", "ort_transformer").nodes)  # pre-norm
    for transform in ("ort_extended", "ort_transformer"):
        assert same_after("hf:bert:tiny", transform), transform
