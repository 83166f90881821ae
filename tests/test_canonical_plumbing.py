"""hnnframe/canonical/plumbing.py beyond the zoo: dynamic quantization, QDQ of GELU networks,
the dynamo exporter's as_strided Gather, on real exports of tiny timm and transformers
models (tests/support/hub.py)."""

from __future__ import annotations

from collections import Counter

from support.hub import ops, prepared, reference, same_after, variant

from hnnframe.canonical import apply_canonical


def test_dynamic_quantization_is_the_float_graph() -> None:
    # onnxruntime's quantize_dynamic: ConvInteger (the patch embedding) and MatMulInteger.
    for spec in ("timm:test_vit", "timm:test_convnext", "hf:bert:tiny"):
        raw = variant(spec, "ort_dynamic")
        counts = ops(raw)
        assert counts["DynamicQuantizeLinear"] and counts["MatMulInteger"], counts
        assert same_after(spec, "ort_dynamic"), spec
    # The ir counts the integer kernels like their float operators: FLOPs and int8 weights.
    # quantize_dynamic quantizes the BN-folded export (the bn_folded variant).
    raw = variant("timm:test_vit", "ort_dynamic")
    deployed = variant("timm:test_vit", "bn_folded")
    mm = Counter((n.flops, n.params) for n in raw.nodes if n.op == "MatMulInteger")
    assert all(f > 0 and p > 0 for f, p in mm)
    assert not any(n.flops_unknown for n in raw.nodes if n.op in ("MatMulInteger", "ConvInteger"))
    float_mm = Counter((n.flops, n.params) for n in deployed.nodes if n.op == "MatMul" and n.params)
    assert float_mm and not float_mm - mm  # every float linear MatMul, as an integer one
    assert prepared(raw).total_params == prepared(reference("timm:test_vit")).total_params


def test_qdq_of_gelu_restores_no_relu() -> None:
    # 1 + erf(x) is never negative: its quantization range starts at 0 like a deleted ReLU's,
    # but it follows a constant offset of Erf, not an operator of either sign.
    for spec in ("timm:test_vit", "hf:bert:tiny"):
        g = apply_canonical(variant(spec, "qdq"), ["fold_constants", "fold_qdq"])
        assert "Relu" not in ops(g)
        assert same_after(spec, "qdq")


def test_as_strided_gather_is_plumbing() -> None:
    # convnext's head: the dynamo exporter spells a view after the pooled mean as a Gather
    # by constant indices that keeps every element.
    raw = variant("timm:test_convnext", "dynamo")
    gathers = [n for n in raw.nodes if n.op == "Gather" and not n.params]
    assert gathers
    assert "Gather" not in ops(apply_canonical(raw, ["fold_constants", "drop_plumbing"]))
    assert same_after("timm:test_convnext", "dynamo")


# OPT at the corpus' smallest size (hnnframe.corpus.catalog.hf_candidates): its SDPA export
# leaves a Transpose of the keys that nothing reads.
OPT = "hf:opt:num_hidden_layers=2,hidden_size=128,num_attention_heads=2,ffn_dim=512,vocab_size=128"


def test_dead_transpose_is_dropped() -> None:
    g = apply_canonical(variant(OPT, "attention"), ["fold_constants", "drop_plumbing"])
    dead = [i for i, n in enumerate(g.nodes) if n.op == "Transpose" and not g.out_degree(i)]
    assert dead
    assert same_after(OPT, "attention")
