"""hnnframe/canonical/fold.py beyond the zoo (``fold_linear``): MatMul + bias against Gemm,
a layer scale folded into weights, projections merged by onnxsim, on real exports of tiny
timm and transformers models (tests/support/hub.py)."""

from __future__ import annotations

from support.hub import ops, prepared, reference, same_after, variant

from hnnframe.canonical import apply_canonical


def test_matmul_and_bias_against_gemm() -> None:
    # The TorchScript exporter spells a Linear on [batch, tokens, dim] as MatMul + Add,
    # onnxsim as Gemm (with Reshapes), onnxruntime's basic level as a fused Gemm.
    raw = reference("timm:test_vit")
    assert ops(raw)["MatMul"] and ops(variant("timm:test_vit", "onnxsim"))["Gemm"] == 25
    g = prepared(raw)
    assert not [n for n in g.nodes if n.op == "MatMul" and n.params]
    assert not [n for n in g.nodes if n.op in ("Add", "Mul") and n.params]
    for t in ("onnxsim", "ort_basic", "dynamo"):
        assert same_after("timm:test_vit", t), t


def test_layer_scale_folded_into_the_weights() -> None:
    # convnext's x * gamma after its MLP: onnxsim multiplies gamma into the weights (and
    # writes them as a Constant node, which the reader counts as the Gemm's weight).
    g = apply_canonical(reference("timm:test_convnext"), ["fold_constants", "drop_plumbing"])
    assert [n for n in g.nodes if n.op == "Mul" and n.params]
    assert same_after("timm:test_convnext", "onnxsim")


def test_projections_merged_by_onnxsim() -> None:
    # onnxsim merges the query, key and value projections of one input into one MatMul and
    # a Split, with the biases after the Split; fold_linear merges them everywhere.
    for spec in ("hf:llama:tiny", "hf:whisper:tiny", "hf:t5:tiny"):
        assert ops(variant(spec, "onnxsim"))["Split"], spec
        assert same_after(spec, "onnxsim"), spec
    g = prepared(reference("hf:llama:tiny"))
    # per layer: q, k and v merged, o, gate and up merged, down
    assert ops(g)["Gemm"] == 2 * 4 and ops(g)["Split"] == 2 * 2
