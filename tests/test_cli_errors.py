"""Bad input gets one line on stderr and a non-zero exit, never a traceback (CLI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import onnx
import pytest
import torch

from hnnframe.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc: int, err: str, needle: str) -> None:
    assert rc != 0
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("hnn: error:") and needle in lines[0], lines[0]
    assert "Traceback" not in err


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rc, _, err = run_cli(capsys, "graph", str(tmp_path / "nope.onnx"))
    assert_one_line_error(rc, err, "no such file")


def test_neither_onnx_nor_torchscript(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("hello, this is not a model\n")
    rc, _, err = run_cli(capsys, "graph", str(p))
    assert_one_line_error(rc, err, "neither an ONNX model, a GGUF file nor a TorchScript file")


def test_truncated_onnx(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_onnx_models: list[Path]
) -> None:
    data = tiny_onnx_models[2].read_bytes()
    p = tmp_path / "truncated.onnx"
    p.write_bytes(data[: len(data) // 2])
    rc, _, err = run_cli(capsys, "graph", str(p))
    assert_one_line_error(rc, err, str(p))


def test_corrupted_onnx(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    p = tmp_path / "garbage.onnx"
    p.write_bytes(bytes(range(256)) * 8)
    rc, _, err = run_cli(capsys, "graph", str(p))
    assert_one_line_error(rc, err, str(p))


def test_absent_external_data_still_gives_structure(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from support.models import TinyConvNet

    model = TinyConvNet().eval()
    p = tmp_path / "ext.onnx"
    torch.onnx.export(
        model,
        (torch.zeros(1, 3, 8, 8),),
        str(p),
        dynamo=False,
        training=torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=False,
    )
    m = onnx.load(str(p))
    onnx.save_model(
        m,
        str(p),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    (tmp_path / "weights.bin").unlink()  # the weights are gone; the structure is not
    rc, out, err = run_cli(capsys, "graph", str(p), "--json")
    assert rc == 0, err
    import json

    assert json.loads(out)["params"] == 130


def test_model_that_fails_to_export(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    class Bad(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.linalg.eig(x)[0].real  # no ONNX symbolic

    scripted = torch.jit.script(Bad())
    p = tmp_path / "bad.pt"
    scripted.save(str(p))
    rc, _, err = run_cli(capsys, "graph", str(p))
    assert_one_line_error(rc, err, "cannot export")


def test_unknown_registry_name(
    capsys: pytest.CaptureFixture[str], tiny_onnx_models: list[Path]
) -> None:
    rc, _, err = run_cli(capsys, "graph", str(tiny_onnx_models[0]), "--merge", "conv_bogus")
    assert_one_line_error(rc, err, "valid: ")
    assert "conv_bn_relu" in err


def test_empty_graph(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    c = helper.make_node(
        "Constant", [], ["y"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])
    )
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    model = helper.make_model(helper.make_graph([c], "empty", [x], [y]))
    p = tmp_path / "empty.onnx"
    onnx.save(model, str(p))
    rc, _, err = run_cli(capsys, "graph", str(p))
    assert_one_line_error(rc, err, "no operator nodes")


def test_pickled_module_needs_trust_flag(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from support.models import TinyConvNet

    p = tmp_path / "whole.pt"
    torch.save(TinyConvNet(), str(p))
    rc, _, err = run_cli(capsys, "graph", str(p))
    assert_one_line_error(rc, err, "--trust-pickle")


def test_graph_text_and_json(
    capsys: pytest.CaptureFixture[str], tiny_onnx_models: list[Path]
) -> None:
    rc, out, _ = run_cli(capsys, "graph", str(tiny_onnx_models[2]), "--merge", "default")
    assert rc == 0 and "nodes" in out and "merges" in out and "conv_bn_relu 3" in out


def test_list_shows_registries(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(capsys, "list")
    assert rc == 0 and "merge_rules" in out and "conv_bn_relu" in out and "paper" in out


def test_console_entry_point_help() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "hnnframe.cli", "--help"], capture_output=True, text=True
    )
    assert r.returncode == 0 and "graph" in r.stdout and "zoo" in r.stdout


def test_custom_rule_example_runs() -> None:
    root = Path(__file__).resolve().parent.parent
    r = subprocess.run(
        [sys.executable, str(root / "examples" / "custom_merge_rule.py")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "'conv_relu_pool': 1" in r.stdout


def test_zoo_build_small(tmp_path: Path) -> None:
    from hnnframe.data.zoo import build_zoo, load_zoo

    out = build_zoo(tmp_path / "zoo", names=["squeezenet1_1"], jobs=1, progress=False)
    ((entry, graph),) = load_zoo(out, names=["squeezenet1_1"])
    assert entry.category == "squeezenet" and graph.total_params == 1_235_496
    onnx_bytes = (out / "onnx" / "squeezenet1_1.onnx").stat().st_size
    assert onnx_bytes < 200_000  # structure only: the weights (4.9 MB) are not cached
