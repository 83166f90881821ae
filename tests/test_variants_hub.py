"""Variants of hub sources (timm:, hf:): the trigger of each modality, modality-aware
transforms, calibration data of the right types, and the hub issue's transforms made with the
real tools (hnnframe/variants/hub_transforms.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from support.hub import ops, source, variant

from hnnframe.variants import (
    VariantError,
    VariantSource,
    VariantUnavailable,
    build_variants,
    get_transform,
    listed_transforms,
    make_variant,
)
from hnnframe.variants.inputs import TEXT, calibration_feeds, token_bound


def test_sources_know_their_modality_and_trigger() -> None:
    vit = source("timm:test_vit")
    assert vit.scheme == "timm" and vit.modality == "image" and vit.input_names() == ["input"]
    assert tuple(vit.example_input().shape) == (1, 3, 160, 160)  # its pretrained_cfg size
    bert = source("hf:bert:tiny")
    assert bert.modality == TEXT and bert.input_names() == ["input_ids"]
    (ids,) = bert.example_input()
    assert ids.dtype == torch.long and tuple(ids.shape) == (1, 128)
    assert tuple(bert.example_input(64)[0].shape) == (1, 64)  # another sequence length
    t5 = source("hf:t5:tiny")
    assert t5.input_names() == ["input_ids", "decoder_input_ids"]
    assert source("hf:vit:tiny").modality == "image"
    with pytest.raises(VariantUnavailable, match="fixed size"):
        source("hf:whisper:tiny").example_input(64)


def test_module_weights_are_random_and_not_degenerate() -> None:
    m = source("hf:bert:tiny").module()
    ln = m.model.encoder.layer[0].output.LayerNorm
    assert not torch.all(ln.weight == 1) and not torch.all(ln.bias == 0)
    sdpa = source("hf:bert:tiny").module(attn="sdpa")
    assert sdpa.model.config._attn_implementation == "sdpa"
    with pytest.raises(VariantUnavailable, match="only transformers"):
        source("timm:test_vit").module(attn="sdpa")


def test_modality_aware_transforms() -> None:
    with pytest.raises(VariantUnavailable, match="images, not text"):
        make_variant("normalize", source("hf:bert:tiny"))
    # resolution for text is a shorter sequence: every activation shrinks, weights stay
    ref = variant("hf:bert:tiny", "bn_folded")
    short = variant("hf:bert:tiny", "resolution")
    assert short.total_params == ref.total_params and short.total_flops < ref.total_flops
    with pytest.raises(VariantUnavailable, match="no attention layer"):
        make_variant("attention", source("timm:test_resnet"))
    g = variant("timm:test_vit", "normalize")
    assert ops(g)["Sub"] >= 1  # (x - mean) / std in front of the image model


def test_calibration_feeds_follow_the_input_types() -> None:
    model = source("hf:bert:tiny").deployed()
    assert token_bound(model, "input_ids") == 128  # the tiny vocabulary
    feeds = calibration_feeds(model, seed=0)
    ids = feeds[0]["input_ids"]
    assert ids.dtype.kind == "i" and ids.min() >= 0 and ids.max() < 128 and ids.max() > 0
    assert ops(variant("hf:bert:tiny", "qdq"))["QuantizeLinear"] > 0


def test_hub_transforms_use_the_real_tools() -> None:
    for t in (
        "attention",
        "dynamo_opset23",
        "ort_dynamic",
        "ort_fp16",
        "ort_extended",
        "ort_transformer",
    ):
        assert t in listed_transforms() and get_transform(t).description
    assert ops(variant("timm:test_vit", "ort_dynamic"))["DynamicQuantizeLinear"]
    assert ops(variant("hf:bert:tiny", "ort_transformer"))["SkipLayerNormalization"]
    assert ops(variant("hf:bert:tiny", "ort_extended"))["SkipLayerNormalization"]
    assert ops(variant("hf:bert:tiny", "ort_fp16"))["Cast"]
    # The TorchScript exporter exports transformers' mask code (torch.diff, a boolean cumsum)
    # in a form onnxruntime accepts.
    assert ops(variant("hf:llama:tiny", "ort_basic"))["CumSum"] <= 1


def test_build_variants_of_hub_sources(tmp_path: Path) -> None:
    out = build_variants(
        [("gpt2-tiny", "hf:gpt2:tiny")], ["dynamo", "normalize"], tmp_path, progress=False
    )
    assert out[("dynamo", "gpt2-tiny")].ok
    v = out[("normalize", "gpt2-tiny")]
    assert not v.ok and "images" in v.error
    assert (tmp_path / "dynamo" / "gpt2-tiny.onnx").exists()
    with pytest.raises(VariantUnavailable):
        VariantSource(tmp_path / "nope.onnx")
    assert issubclass(VariantError, Exception)


def test_a_cached_failure_is_retried_by_newer_variant_code(tmp_path: Path) -> None:
    import json

    out = build_variants([("bert-tiny", "hf:bert:tiny")], ["normalize"], tmp_path, progress=False)
    assert not out[("normalize", "bert-tiny")].ok
    path = tmp_path / "normalize" / "bert-tiny.json"
    record = json.loads(path.read_text())
    record["maker"] = "older-code"
    path.write_text(json.dumps(record))
    from hnnframe.variants.cache import load_cached

    assert load_cached(path) is None  # made by other code: retried
    build_variants([("bert-tiny", "hf:bert:tiny")], ["normalize"], tmp_path, progress=False)
    assert load_cached(path) is not None  # the same code failed again: cached


def test_tool_transforms_use_the_real_tools() -> None:
    import onnx

    slim = variant("timm:test_vit", "onnxslim")
    assert slim.num_nodes and ops(slim)["MatMul"]
    src = source("timm:test_vit")
    converted = get_transform("version_converter")(src)
    assert max(o.version for o in converted.opset_import if o.domain in ("", "ai.onnx")) == 21
    onnx.checker.check_model(converted)
    fp16 = get_transform("converter_fp16")(src)
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in fp16.graph.initializer)
    assert ops(variant("timm:test_vit", "converter_fp16"))["Cast"]
