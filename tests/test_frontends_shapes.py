"""Shape inference without the data: ONNX files whose tensors are external and absent.

``convert_model_to_external_data(size_threshold=0)`` with the data file deleted leaves no
shape constant readable. Such a file must still give its structure: the same nodes, edges and
parameters as the file with its data, FLOPs equal wherever they can be known, and marked
unknown (not silently 0) where they cannot.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import onnx
import pytest
import torch
from onnx.external_data_helper import convert_model_to_external_data
from torch import nn

from hnnframe.frontends import load_onnx_file
from hnnframe.ir import OpGraph, from_onnx


class ChannelShuffleNet(nn.Module):
    """ShuffleNet's channel shuffle (a Reshape to 5-D and back) between two convolutions,
    then ``mean([2, 3])``: every later shape depends on a shape constant."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 1)
        self.fc = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn(self.conv1(x)))
        b, c, h, w = x.shape
        x = x.view(b, 2, c // 2, h, w).transpose(1, 2).reshape(b, c, h, w)
        x = torch.relu(self.conv2(x))
        return self.fc(x.mean([2, 3]))


def _export(kind: str) -> onnx.ModelProto:
    model = ChannelShuffleNet().eval()
    x = torch.zeros(1, 3, 8, 8)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "dynamo":  # shapes and axes in int64 initializers; value_info declared
            return torch.onnx.export(model, (x,), dynamo=True, opset_version=18).model_proto
        buf = io.BytesIO()
        # "folded": the exporter's defaults, shapes in Constant nodes; "hnn": the zoo's
        # settings (BN kept, no folding), shapes computed by Shape/Gather/Constant nodes.
        kw = (
            {"training": torch.onnx.TrainingMode.PRESERVE, "do_constant_folding": False}
            if kind == "hnn"
            else {}
        )
        torch.onnx.export(model, (x,), buf, dynamo=False, opset_version=17, **kw)
    return onnx.load_from_string(buf.getvalue())


def _files(tmp: Path, kind: str, declared: bool = True) -> tuple[Path, Path]:
    """The export with its data, and the same file with every tensor external and absent
    (without the exporter's declared shapes unless ``declared``)."""
    proto = _export(kind)
    if not declared:
        del proto.graph.value_info[:]
    full = tmp / f"{kind}_full.onnx"
    onnx.save(proto, str(full))
    convert_model_to_external_data(
        proto,
        all_tensors_to_one_file=True,
        location=f"{kind}.data",
        size_threshold=0,
        convert_attribute=True,  # Constant nodes' values too
    )
    dataless = tmp / f"{kind}.onnx"
    onnx.save(proto, str(dataless))
    (tmp / f"{kind}.data").unlink()
    return full, dataless


def _graph(path: Path) -> OpGraph:
    return from_onnx(load_onnx_file(path))


def assert_same_structure(full: OpGraph, dataless: OpGraph) -> None:
    assert dataless.ops() == full.ops() and dataless.num_nodes == full.num_nodes
    assert dataless.edges == full.edges
    assert dataless.total_params == full.total_params
    assert full.unknown_flops == 0
    for a, b in zip(full.nodes, dataless.nodes, strict=True):
        assert b.flops_unknown or b.flops == a.flops, (a, b)


@pytest.mark.parametrize("kind", ["hnn", "folded", "dynamo"])
def test_dataless_file_gives_its_structure_and_marks_unknown_flops(
    tmp_path: Path, kind: str
) -> None:
    # "dynamo" without its declared shapes: a Reshape reads its target from an initializer.
    full_path, dataless_path = _files(tmp_path, kind, declared=False)
    assert not (tmp_path / f"{kind}.data").exists()
    full, dataless = _graph(full_path), _graph(dataless_path)
    assert_same_structure(full, dataless)
    # conv2 and everything after the shuffle lost their shapes: unknown, not silently 0.
    conv2 = [i for i, n in enumerate(full.nodes) if n.op == "Conv"][1]
    assert dataless.nodes[conv2].flops_unknown and full.nodes[conv2].flops > 0
    assert dataless.total_flops < full.total_flops
    # What comes before the shuffle is still counted exactly.
    assert dataless.nodes[0].op == "Conv" and dataless.nodes[0].flops == full.nodes[0].flops


def test_declared_shapes_stand_in_for_absent_constants(tmp_path: Path) -> None:
    """The dynamo exporter declares every shape: without the data, nothing is lost."""
    full_path, dataless_path = _files(tmp_path, "dynamo")
    full, dataless = _graph(full_path), _graph(dataless_path)
    assert_same_structure(full, dataless)
    assert dataless.unknown_flops == 0 and dataless.content_hash() == full.content_hash()


def test_tensors_with_dims_but_no_bytes(tmp_path: Path) -> None:
    """Not marked external, yet empty: reading them once failed with "cannot reshape array of
    size 0 into shape (2,)" and took the whole model down."""
    proto = _export("dynamo")
    del proto.graph.value_info[:]
    full = _graph(_save(proto, tmp_path / "full.onnx"))
    emptied = 0
    for t in proto.graph.initializer:
        if t.data_type == onnx.TensorProto.INT64:
            t.ClearField("raw_data")
            t.ClearField("int64_data")
            emptied += 1
    assert emptied > 0
    g = _graph(_save(proto, tmp_path / "empty.onnx"))
    assert_same_structure(full, g)
    assert g.unknown_flops > 0


def _save(proto: onnx.ModelProto, path: Path) -> Path:
    path.write_bytes(proto.SerializeToString())
    return path


def _pads_from_float_constants(out_of_order: bool, declared_symbol: bool) -> onnx.ModelProto:
    """x -> Cast (float16) -> Pad -> Conv, the pads computed as TensorFlow-style "same"
    padding is: ceil(size / stride) in floats, clipped at 0, cast to int64. Optionally the
    input's Cast is listed last (as onnxruntime's float16 converter writes it) and the Pad's
    output declared with a symbol of the tool's own."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    def const(name: str, value: Any) -> Any:
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value))

    nodes = [
        const("half", np.array(3.5, dtype=np.float16)),
        helper.make_node("Ceil", ["half"], ["up"]),
        const("zero", np.array(0.0, dtype=np.float16)),
        helper.make_node("Max", ["up", "zero"], ["amount"]),
        helper.make_node("Cast", ["amount"], ["amount_i"], to=TensorProto.INT64),
        const("mask", np.array([0, 0, 1, 1, 0, 0, 1, 1], dtype=np.int64)),
        helper.make_node("Mul", ["mask", "amount_i"], ["pads"]),
        helper.make_node("Pad", ["xh", "pads"], ["padded"]),
        helper.make_node("Conv", ["padded", "w"], ["y"]),
    ]
    cast = helper.make_node("Cast", ["x"], ["xh"], to=TensorProto.FLOAT16)
    nodes = [*nodes, cast] if out_of_order else [cast, *nodes]
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), dtype=np.float16), "w")
    declared = []
    if declared_symbol:
        declared = [helper.make_tensor_value_info("padded", TensorProto.FLOAT16, ["u0"] * 4)]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, None)],
        [w],
        value_info=declared,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize(("out_of_order", "declared_symbol"), [(False, False), (True, True)])
def test_pads_computed_in_floats_give_shapes(out_of_order: bool, declared_symbol: bool) -> None:
    from hnnframe.frontends.export import prepare

    g = from_onnx(prepare(_pads_from_float_constants(out_of_order, declared_symbol)))
    conv = next(n for n in g.nodes if n.op == "Conv")
    assert conv.shape == (1, 4, 14, 14) and conv.flops > 0  # 8 + 2 * 4 = 16, then 3x3 valid
