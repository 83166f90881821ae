"""Variants (hnnframe.variants): the transform registry, file and torchvision sources, the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hnnframe.cli import main
from hnnframe.errors import HnnError, RegistryError
from hnnframe.variants import (
    TRANSFORMS,
    Transform,
    VariantSource,
    VariantUnavailable,
    build_variants,
    copy_transforms,
    derived_transforms,
    get_transform,
    listed_transforms,
    make_variant,
    transform_names,
    unlisted_transforms,
)


def test_transform_table() -> None:
    assert set(listed_transforms()) == {
        "dynamo",
        "bn_folded",
        "opset11",
        "onnxsim",
        "qdq",
        "plumbing",
        "resolution",
        "normalize",
        # the hub issue's (hnnframe/variants/hub_transforms.py)
        "attention",
        "dynamo_opset23",
        "ort_dynamic",
        "ort_fp16",
        "ort_extended",
        "ort_transformer",
        # the canonical-identity issue's (hnnframe/variants/tool_transforms.py)
        "onnxslim",
        "version_converter",
        "converter_fp16",
    }
    assert unlisted_transforms() and not set(unlisted_transforms()) & set(listed_transforms())
    for t in (TRANSFORMS.get(n) for n in TRANSFORMS):
        assert t.name == t.name.lower() and t.description


def test_transforms_are_a_registry_in_the_issue_order() -> None:
    derived = derived_transforms()
    assert isinstance(get_transform("plumbing"), Transform)
    assert sorted(transform_names()) == TRANSFORMS.names()
    # The robustness tables list the issue's transforms first, in its order; the derived
    # architectures (no copies, in no robustness table) come last.
    assert transform_names() == [*listed_transforms(), *unlisted_transforms(), *derived]
    assert copy_transforms() == [*listed_transforms(), *unlisted_transforms()]
    assert derived == ["new_head", "layer_drop", "vocab_extended", "width_pruned"] + [
        "adapter_unmerged"
    ]
    assert all(get_transform(t).derived and not get_transform(t).listed for t in derived)
    assert not set(derived) & set(unlisted_transforms())
    assert not any(get_transform(t).derived for t in copy_transforms())
    assert transform_names()[:3] == ["dynamo", "bn_folded", "opset11"]
    with pytest.raises(RegistryError, match="unknown transform 'nope'; valid: .*plumbing"):
        get_transform("nope")


def test_hnn_list_json_shows_the_transforms(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json"]) == 0
    regs = json.loads(capsys.readouterr().out)
    assert regs["transforms"] == TRANSFORMS.names()
    assert {"dynamo", "qdq", "plumbing", "fp16"} <= set(regs["transforms"])
    assert main(["list"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("transforms"))
    assert "layer_drop (derived)" in line and "dynamo," in line


def test_file_variants_and_cache(tiny_onnx_models: list[Path], tmp_path: Path) -> None:
    path = tiny_onnx_models[0]
    onnx_level = [t for t in transform_names() if not get_transform(t).needs_module]
    out = build_variants(
        [("convnet", str(path))], [*onnx_level, "dynamo"], tmp_path, progress=False
    )
    assert all(out[(t, "convnet")].ok for t in onnx_level), {
        t: out[(t, "convnet")].error for t in onnx_level
    }
    assert not out[("dynamo", "convnet")].ok and "torch module" in out[("dynamo", "convnet")].error
    files = sorted((tmp_path / "plumbing").iterdir())
    assert [f.suffix for f in files] == [".json", ".onnx"] and "convnet-" in files[0].name
    mtime = files[0].stat().st_mtime_ns
    again = build_variants([("convnet", str(path))], ["plumbing"], tmp_path, progress=False)
    assert files[0].stat().st_mtime_ns == mtime  # read from the cache, not rebuilt
    assert again[("plumbing", "convnet")].graph.content_hash() == (
        out[("plumbing", "convnet")].graph.content_hash()
    )
    with pytest.raises(VariantUnavailable):
        make_variant("resolution", VariantSource(path))
    with pytest.raises(HnnError, match="unknown transform"):
        build_variants([("convnet", str(path))], ["nope"], tmp_path)


def test_torchvision_variant_records_its_input_size() -> None:
    _, g, info = make_variant("resolution", VariantSource("torchvision:squeezenet1_1"))
    assert info["input_size"] == 256 and g.name == "squeezenet1_1"
    ref = make_variant("opset11", VariantSource("torchvision:squeezenet1_1"))[1]
    assert g.total_flops > 1.2 * ref.total_flops and g.total_params == ref.total_params
