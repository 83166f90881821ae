"""hnnframe/canonical/motifs.py beyond the zoo: eager against SDPA attention, native opset-23
attention and rotary embeddings, Transposes moved around attention, a LayerNorm over a 1x1
map, on real exports of tiny timm and transformers models (tests/support/hub.py)."""

from __future__ import annotations

from support.hub import ops, prepared, reference, same_after, variant

from hnnframe.canonical import apply_canonical


def test_eager_and_sdpa_attention_are_one_graph() -> None:
    # transformers' sdpa export guards its Softmax with where(isnan(p), 0, p) and scales
    # both queries and keys; eager scales the scores.
    for spec in ("hf:gpt2:tiny", "hf:llama:tiny", "hf:bert:tiny"):
        sdpa = variant(spec, "attention")
        assert ops(sdpa)["IsNaN"] or spec == "hf:bert:tiny", ops(sdpa)
        assert same_after(spec, "attention"), spec
        assert ops(prepared(sdpa))["Attention"] == 2  # one per layer of the tiny configs
    # timm's attention layers use SDPA by default; the variant turns it off (eager).
    assert same_after("timm:test_vit", "attention")


# Gemma at the corpus' smallest size (its head dim, 256, is the default), with a small
# vocabulary: the dynamo exporter at opset 23 writes its rotary embedding natively.
GEMMA = (
    "hf:gemma:num_hidden_layers=2,hidden_size=128,num_attention_heads=2,"
    "num_key_value_heads=2,intermediate_size=512,vocab_size=128"
)


def test_native_attention_and_rotary_of_opset_23() -> None:
    assert ops(variant("timm:test_vit", "dynamo_opset23"))["Attention"] == 6
    assert same_after("timm:test_vit", "dynamo_opset23")
    assert ops(variant(GEMMA, "dynamo_opset23"))["RotaryEmbedding"] == 4
    assert same_after(GEMMA, "dynamo_opset23")
    ref = prepared(reference(GEMMA))
    assert ops(ref)["RotaryEmbedding"] == 4  # queries and keys of both layers, fused
    # the head splits went into Attention, and the Transposes that join the heads again are
    # layout (drop_transpose)
    assert "Neg" not in ops(ref) and "Transpose" not in ops(ref)


def test_transposes_around_attention_are_absorbed() -> None:
    # onnxruntime's transpose optimiser moves the qkv Transpose from before the Split to
    # after it (timm), and into the rotary embedding (Llama).
    for spec in ("timm:test_vit", "hf:llama:tiny"):
        assert same_after(spec, "ort_basic"), spec
    g = apply_canonical(
        reference("timm:test_vit"), ["fold_constants", "drop_plumbing", "fuse_decompositions"]
    )
    attn = [i for i, n in enumerate(g.nodes) if n.op == "Attention"]
    assert attn and all(g.nodes[p].op != "Transpose" for i in attn for p in g.predecessors(i))


def test_layernorm_over_a_1x1_map_is_not_batchnorm() -> None:
    # convnext's head normalises the channels of the pooled 1x1 map; below opset 17 that is
    # two means over one element per position, not BatchNorm's statistics.
    g = prepared(variant("timm:test_convnext", "opset11"))
    assert "BatchNormalization" not in ops(g)
    assert same_after("timm:test_convnext", "opset11")
