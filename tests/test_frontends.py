"""Frontends: named sources (torchvision, timm, hf), transformers configs and snapshots, files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import onnx
import pytest
import torch
from support.models import TINY_INPUT, TinyResNet, export

from hnnframe.errors import ModelLoadError
from hnnframe.frontends import build_module, example_input, load_onnx_file, model_name
from hnnframe.frontends.hf import TEXT_TOKENS
from hnnframe.frontends.sources import config_json, parse_hf, source_label, split_source
from hnnframe.ir import OpGraph, from_onnx
from hnnframe.pipeline import graph_of
from hnnframe.sources import to_onnx


def real_params(spec: str) -> int:
    """Parameters of the same model built for real (random weights on the CPU)."""
    return sum(p.numel() for p in build_module(spec).parameters())


def input_dims(proto: onnx.ModelProto) -> dict[str, list[int]]:
    inits = {t.name for t in proto.graph.initializer}
    return {
        i.name: [d.dim_value for d in i.type.tensor_type.shape.dim]
        for i in proto.graph.input
        if i.name not in inits
    }


def holds_no_weights(proto: onnx.ModelProto) -> bool:
    return all(not t.raw_data and not t.float_data for t in proto.graph.initializer)


_EXPORTS: dict[str, tuple[onnx.ModelProto, OpGraph]] = {}


def exported(spec: str) -> tuple[onnx.ModelProto, OpGraph]:
    """Each source is exported once per session (an hf export takes a few seconds)."""
    if spec not in _EXPORTS:
        proto = to_onnx(spec)
        _EXPORTS[spec] = (proto, from_onnx(proto, model_name(spec)))
    return _EXPORTS[spec]


def test_source_specs() -> None:
    assert split_source("timm:resnet18") == ("timm", "resnet18")
    assert split_source("hf:gpt2:tiny,n_layer=3") == ("hf", "gpt2:tiny,n_layer=3")
    assert split_source("/tmp/hf:x.onnx") is None
    assert parse_hf("gpt2") == ("gpt2", False, {})
    assert parse_hf("gpt2:tiny,n_layer=3,activation_function=gelu") == (
        "gpt2",
        True,
        {"n_layer": 3, "activation_function": "gelu"},
    )
    assert source_label("hf:gpt2:tiny,n_layer=3") == "gpt2-tiny-n_layer=3"
    assert source_label("timm:efficientnet_b0") == "efficientnet_b0"


def test_timm_model_is_exported_with_bn_at_its_input_size() -> None:
    import timm

    proto, g = exported("timm:test_resnet")
    model = timm.create_model("test_resnet", pretrained=False)
    size = tuple(model.pretrained_cfg["input_size"])
    assert list(input_dims(proto).values()) == [[1, *size]]
    assert "BatchNormalization" in g.ops()  # the TorchScript exporter with BN kept
    assert g.total_params == sum(p.numel() for p in model.parameters())
    assert g.unknown_flops == 0 and g.total_flops > 0
    assert example_input("timm:test_resnet").shape == (1, *size)


@pytest.mark.parametrize(
    "spec,inputs",
    [
        ("hf:gpt2:tiny", {"input_ids": [1, TEXT_TOKENS]}),  # a decoder
        ("hf:bert:tiny", {"input_ids": [1, TEXT_TOKENS]}),  # an encoder
        ("hf:vit:tiny", {"pixel_values": [1, 3, 32, 32]}),  # a vision transformer
        ("hf:llama:tiny", {"input_ids": [1, TEXT_TOKENS]}),  # RMSNorm, rotary, SwiGLU
    ],
)
def test_hf_tiny_configs_count_the_parameters_torch_counts(
    spec: str, inputs: dict[str, list[int]]
) -> None:
    proto, g = exported(spec)
    assert input_dims(proto) == inputs
    assert holds_no_weights(proto)  # built on the meta device: nothing to hold
    assert g.total_params == real_params(spec)
    assert g.unknown_flops == 0 and g.total_flops > 0
    assert "MatMul" in g.ops() or "Gemm" in g.ops()
    # The same kind of file the rest of the pipeline reads: it survives a save and reload.
    again = from_onnx(onnx.load_from_string(proto.SerializeToString()), g.name)
    assert again.content_hash() == g.content_hash()


def test_hf_encoder_decoder_and_audio_triggers() -> None:
    proto, g = exported("hf:t5:tiny")
    assert input_dims(proto) == {
        "input_ids": [1, TEXT_TOKENS],
        "decoder_input_ids": [1, TEXT_TOKENS],
    }
    assert g.total_params == real_params("hf:t5:tiny")
    proto, g = exported("hf:whisper:tiny")  # the encoder only, on 2 x max_source_positions
    assert input_dims(proto) == {"input_features": [1, 16, 64]}
    assert g.total_params == real_params("hf:whisper:tiny")


def test_hf_overrides_change_the_size() -> None:
    _, small = exported("hf:gpt2:tiny")
    _, deeper = exported("hf:gpt2:tiny,n_layer=3")
    assert deeper.num_nodes > small.num_nodes
    assert deeper.total_params == real_params("hf:gpt2:tiny,n_layer=3") > small.total_params


def test_config_json_and_snapshot_directory(tmp_path: Path) -> None:
    from hnnframe.frontends.named import hf_config

    config = hf_config("hf:gpt2:tiny")
    # A bare config.json: the same architecture as the built-in tiny config.
    path = tmp_path / "tiny-gpt2.json"
    config.to_json_file(str(path))
    _, base = exported("hf:gpt2:tiny")
    from_file = graph_of(str(path))
    assert from_file.content_hash() == base.content_hash()
    assert from_file.name == "tiny-gpt2"
    # A hub snapshot: config.json naming its class, weights beside it that are never read.
    snap = tmp_path / "models--org--tiny-gpt2" / "snapshots" / "0123abc"
    snap.mkdir(parents=True)
    config.architectures = ["GPT2LMHeadModel"]
    config.to_json_file(str(snap / "config.json"))
    (snap / "model.safetensors").write_bytes(b"not read")
    assert config_json(snap) == snap / "config.json"
    lm = graph_of(str(snap))
    assert lm.name == "tiny-gpt2"
    # The LM head is tied to the token embedding: one more MatMul, no more parameters.
    assert lm.total_params == real_params(str(snap)) == base.total_params
    assert lm.ops().count("MatMul") == base.ops().count("MatMul") + 1


def _error(spec: Any) -> str:
    with pytest.raises(ModelLoadError) as e:
        to_onnx(spec)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_source_errors_are_one_line_naming_the_source(tmp_path: Path) -> None:
    assert _error("timm:no_such_net").startswith("timm:no_such_net: unknown timm model")
    assert _error("hf:lama").startswith("hf:lama: unknown transformers model type 'lama'")
    assert "did you mean llama" in _error("hf:lama")
    assert "bad override 'n_layer'" in _error("hf:gpt2:n_layer")
    assert (
        _error("hf:gpt2:tiny,n_layre=3")
        == "hf:gpt2:tiny,n_layre=3: GPT2Config has no field 'n_layre'"
    )
    assert "no tiny config" in _error("hf:cohere:tiny")
    bad = tmp_path / "config.json"
    bad.write_text('{"model_type": "gpt2", ')
    assert _error(bad).startswith(f"{bad}: not a readable config.json (JSONDecodeError")
    assert _error(tmp_path).startswith(f"{bad}: not a readable config.json")  # the snapshot
    bad.write_text('{"n_layer": 2}')
    assert _error(bad) == f"{bad}: not a transformers config.json (no model_type)"
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    assert _error(empty) == f"{empty}: is a directory with no config.json, not a model file"


def test_torchscript_and_onnx_files_give_the_same_graph(tmp_path: Path) -> None:
    model = TinyResNet(8, 1).eval()
    x = torch.zeros(*TINY_INPUT)
    ts = tmp_path / "m.pt"
    torch.jit.trace(model, x).save(str(ts))
    onnx_path = export(model, tmp_path / "m.onnx")
    a = graph_of(str(ts), example_input=x)
    b = graph_of(str(onnx_path))
    assert a.ops() == b.ops() and a.total_params == b.total_params == sum(
        p.numel() for p in model.parameters()
    )
    assert from_onnx(load_onnx_file(onnx_path)).content_hash() == b.content_hash()


def test_hf_exports_are_deterministic() -> None:
    """Two exports of one config give one graph (hashes are keys in caches and indexes)."""
    _, first = exported("hf:bert:tiny")
    again = from_onnx(to_onnx("hf:bert:tiny"), "bert-tiny")
    assert again.content_hash() == first.content_hash()
    assert json.dumps(again.to_dict()["edges"]) == json.dumps(first.to_dict()["edges"])
