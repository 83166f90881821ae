"""Batches that survive: ``hnn hash`` and ``hnn graph`` over real files, some of them bad.

Every good file is processed, each bad one is named on stderr, ``--json`` carries the per-file
errors, and the exit status is 1 (2 stays for usage errors).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import convert_model_to_external_data

from hnnframe.cli import main


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory, tiny_onnx_models: list[Path]) -> list[str]:
    """Two good ONNX files, a data-less one, a transformers config, a corrupt and a missing
    file, in that order."""
    from hnnframe.frontends.named import hf_config

    d = tmp_path_factory.mktemp("batch")
    # Every tensor external, the data file gone (convert_model_to_external_data, size 0).
    proto = onnx.load(str(tiny_onnx_models[2]), load_external_data=False)
    for k, t in enumerate(proto.graph.initializer):  # the fixture's weights are stripped
        if t.data_location == onnx.TensorProto.EXTERNAL:
            dtype = helper.tensor_dtype_to_np_dtype(t.data_type)
            filled = numpy_helper.from_array(np.zeros(tuple(t.dims), dtype), t.name)
            proto.graph.initializer[k].CopyFrom(filled)
    convert_model_to_external_data(proto, True, "gone.data", size_threshold=0)
    dataless = d / "dataless.onnx"
    onnx.save(proto, str(dataless))
    (d / "gone.data").unlink()
    config = d / "tiny-bert" / "config.json"
    config.parent.mkdir()
    hf_config("hf:bert:tiny").to_json_file(str(config))
    corrupt = d / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07 this is not a protobuf \xff\xff\xff")
    missing = d / "missing.onnx"
    good = [str(p) for p in tiny_onnx_models[:2]]
    return [*good, str(dataless), str(config.parent), str(corrupt), str(missing)]


def _error_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("hnn: error:")]


def test_hash_batch_hashes_every_good_file_and_names_the_bad(
    capsys: pytest.CaptureFixture[str], tiny_checkpoint: Path, batch: list[str]
) -> None:
    *good, corrupt, missing = batch
    assert main(["hash", "--checkpoint", str(tiny_checkpoint), *batch]) == 1
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert [ln.split()[-1] for ln in lines] == good
    errors = _error_lines(err)
    assert len(errors) == 2
    assert errors[0].startswith(f"hnn: error: {corrupt}: ")
    assert errors[1] == f"hnn: error: {missing}: no such file"

    assert main(["hash", "--checkpoint", str(tiny_checkpoint), "--json", *batch]) == 1
    out, err = capsys.readouterr()
    rows = [json.loads(ln) for ln in out.strip().splitlines()]
    assert [r["path"] for r in rows] == batch
    assert [set(r) for r in rows[:4]] == [
        {"path", "code", "bits", "graph_digest", "config_digest"}
    ] * 4
    assert [set(r) for r in rows[4:]] == [{"path", "error"}] * 2
    assert rows[4]["error"].startswith(corrupt) and rows[5]["error"].startswith(missing)
    # Each good file gets the code it gets alone: a bad neighbour changes nothing.
    assert main(["hash", "--checkpoint", str(tiny_checkpoint), "--json", good[1]]) == 0
    assert json.loads(capsys.readouterr().out)["code"] == rows[1]["code"]


def test_graph_of_several_models_survives_bad_ones(
    capsys: pytest.CaptureFixture[str], batch: list[str]
) -> None:
    *good, corrupt, missing = batch
    assert main(["graph", *batch]) == 1
    out, err = capsys.readouterr()
    assert [ln.split(None, 1)[1] for ln in out.splitlines() if ln.startswith("model ")] == good
    errors = _error_lines(err)
    assert len(errors) == 2 and corrupt in errors[0] and missing in errors[1]

    assert main(["graph", "--json", *batch]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in rows] == batch
    assert all("error" not in r and r["nodes"] > 0 for r in rows[:4])
    assert [set(r) for r in rows[4:]] == [{"model", "error"}] * 2
    assert rows[4]["error"].startswith(corrupt) and rows[5]["error"].startswith(missing)
    assert all(r["flops_unknown_nodes"] == 0 for r in rows[:4])


def test_graph_says_how_many_nodes_have_unknown_flops(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A file whose shape constant is absent: FLOPs after it are unknown, and said so."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    shape = TensorProto(name="shape", data_type=TensorProto.INT64, dims=[2])
    shape.data_location = TensorProto.EXTERNAL
    shape.external_data.add(key="location", value="absent.data")
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[24, 3])
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value="absent.data")
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Reshape", ["r", "shape"], ["f"]),
        helper.make_node("MatMul", ["f", "w"], ["h"]),
        helper.make_node("Relu", ["h"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "g", [x], [y], [shape, w])
    path = tmp_path / "absent_shape.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    assert main(["graph", str(path)]) == 0
    flops = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("flops")]
    note = "2 nodes unknown, the total is a lower bound"
    assert flops == [f"flops    24  (1 multiply-add = 2 FLOPs; {note})"]
    assert main(["graph", "--json", str(path)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["flops"], row["flops_unknown_nodes"], row["params"]) == (24, 2, 72)
