"""The OpGraph IR: FLOPs and parameters, unknown FLOPs, serialisation, hashes, conversions."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import pytest
import torch
from onnx import TensorProto, helper
from support.models import TINY_INPUT, TinyConvNet

from hnnframe.dgl_compat import to_dgl
from hnnframe.encoders import PaperEncoder
from hnnframe.ir import OpGraph, OpNode, flops_unknown, from_onnx, node_flops
from hnnframe.pipeline import graph_of
from hnnframe.presets import DEFAULT_RULES


def tiny_graph() -> OpGraph:
    return graph_of(TinyConvNet(), example_input=torch.zeros(*TINY_INPUT))


def test_flops_and_params_hand_computed() -> None:
    g = tiny_graph()
    by_op = {n.op: n for n in g.nodes}
    assert list(by_op) == [
        "Conv",
        "BatchNormalization",
        "Relu",
        "GlobalAveragePool",
        "Flatten",
        "Gemm",
    ]
    # Conv 3->4, 3x3, on 8x8: 256 outputs x 27 MACs x 2 FLOPs + 256 bias adds.
    assert (by_op["Conv"].flops, by_op["Conv"].params) == (2 * 256 * 27 + 256, 4 * 3 * 9 + 4)
    # BN: scale and shift per element; its weight and bias are parameters, stats are buffers.
    assert (by_op["BatchNormalization"].flops, by_op["BatchNormalization"].params) == (512, 8)
    assert by_op["Relu"].flops == 256
    assert by_op["GlobalAveragePool"].flops == 256
    assert by_op["Flatten"].flops == 0
    # Linear 4->2: 2x4 MACs x 2 + 2 bias adds; 8 + 2 parameters.
    assert (by_op["Gemm"].flops, by_op["Gemm"].params) == (18, 10)
    assert g.total_params == sum(p.numel() for p in TinyConvNet().parameters()) == 130
    assert by_op["Conv"].shape == (1, 4, 8, 8)
    assert g.edges == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]
    assert g.unknown_flops == 0  # every shape is known, Flatten is data movement


def test_resnet18_parameters_match_torch() -> None:
    import torchvision

    g = graph_of("torchvision:resnet18")
    assert g.total_params == sum(p.numel() for p in torchvision.models.resnet18().parameters())
    assert g.total_params == 11_689_512
    merged = graph_of("torchvision:resnet18", merge=DEFAULT_RULES)
    assert merged.num_nodes < g.num_nodes
    assert merged.total_params == g.total_params and merged.total_flops == g.total_flops


def _node(op: str, n_in: int = 1, **attrs: object) -> onnx.NodeProto:
    return helper.make_node(op, [f"i{k}" for k in range(n_in)], ["o"], **attrs)


def test_node_flops_and_when_they_are_unknown() -> None:
    conv = _node("Conv", 3)
    w = (8, 4, 3, 3)
    assert node_flops(conv, [(1, 4, 6, 6), w, (8,)], (1, 8, 6, 6)) == 2 * 288 * 36 + 288
    assert not flops_unknown(conv, [(1, 4, 6, 6), w, (8,)], (1, 8, 6, 6))
    # The output shape depended on a constant the file does not hold: 0, and marked.
    assert node_flops(conv, [(1, 4, None, None), w, (8,)], (1, 8, None, None)) == 0
    assert flops_unknown(conv, [(1, 4, None, None), w, (8,)], (1, 8, None, None))
    mm = _node("MatMul", 2)
    assert flops_unknown(mm, [None, (4, 3)], (None, 3))
    assert (
        not flops_unknown(mm, [(2, 4), (4, 3)], (2, 3)) and node_flops(mm, [(2, 4)], (2, 3)) == 48
    )
    # Data movement is free and known even without shapes; an op with no rule is unknown.
    assert not flops_unknown(_node("Reshape", 2), [None, None], None)
    assert node_flops(_node("Einsum", 2), [(2, 3), (3, 4)], (2, 4)) == 0
    assert flops_unknown(_node("Einsum", 2), [(2, 3), (3, 4)], (2, 4))
    # Comparisons are elementwise (transformers' attention masks).
    assert node_flops(_node("LessOrEqual", 2), [(1, 4), (1, 4)], (1, 4)) == 4


def test_unknown_flops_are_serialised_only_when_set() -> None:
    nodes = [
        OpNode("Conv", "a", 10, 5, (1, 2)),
        OpNode("Shape", "b", 0, 0, (4,), const=True),
        OpNode("QuantizeLinear", "c", 0, 0, None, clamp=(0.0, 6.0)),
        OpNode("MatMul", "d", 0, 0, None, flops_unknown=True),
    ]
    g = OpGraph(nodes, [(0, 2), (2, 3), (1, 3)], "g")
    rows = g.to_dict()["nodes"]
    # Rows without the newer fields keep the layout graphs were saved in before them.
    assert rows[0] == ["Conv", "a", 10, 5, [1, 2]]
    assert rows[1] == ["Shape", "b", 0, 0, [4], True]
    assert rows[2] == ["QuantizeLinear", "c", 0, 0, None, False, [0.0, 6.0]]
    assert rows[3] == ["MatMul", "d", 0, 0, None, False, None, True]
    back = OpGraph.from_dict(json.loads(json.dumps(g.to_dict())))
    assert back.nodes == g.nodes and back.unknown_flops == 1
    # The mark is not part of the hashes: cached graphs and GED cache keys stay valid.
    plain = OpGraph([OpNode(n.op, n.name, n.flops, n.params, n.shape) for n in nodes], g.edges)
    assert plain.content_hash() == g.content_hash()
    assert plain.structure_hash() == g.structure_hash()


def test_from_onnx_marks_flops_behind_an_unreadable_shape() -> None:
    """A Reshape whose target shape has dims but no bytes: its consumer's FLOPs are unknown."""
    from hnnframe.frontends import prepare

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    shape = TensorProto(name="shape", data_type=TensorProto.INT64, dims=[2])  # no data
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[24, 3])
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value="absent.data")
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Reshape", ["r", "shape"], ["f"]),
        helper.make_node("MatMul", ["f", "w"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "g", [x], [y], [shape, w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    g = from_onnx(prepare(model))
    assert g.ops() == ["Relu", "Reshape", "MatMul"] and g.total_params == 72
    relu, reshape, matmul = g.nodes
    assert (relu.flops, relu.flops_unknown) == (24, False)
    assert not reshape.flops_unknown
    # The rank survives (the shape tensor has 2 elements), the dims do not.
    assert reshape.shape is not None and len(reshape.shape) == 2
    assert matmul.flops_unknown and g.unknown_flops == 1


def test_networkx_and_graphml(tmp_path: Path) -> None:
    import networkx as nx

    g = tiny_graph()
    nxg = g.to_networkx()
    assert nxg.number_of_nodes() == 6 and nxg.nodes[0]["op"] == "Conv"
    nx.write_graphml(nxg, tmp_path / "g.graphml")
    assert nx.read_graphml(tmp_path / "g.graphml").number_of_nodes() == 6


def test_to_dgl_is_undirected_with_self_loops() -> None:
    g = tiny_graph()
    enc = PaperEncoder().fit([g])
    dg = to_dgl(g, enc.encode(g))
    assert dg.num_nodes() == 6 and dg.num_edges() == 2 * g.num_edges + 6
    assert dg.ndata["feat"].shape == (6, enc.dim)
    u, v = g.undirected_edges(self_loops=False)
    assert sorted(zip(u.tolist(), v.tolist(), strict=True)) == sorted(
        g.edges + [(d, s) for s, d in g.edges]
    )


def test_empty_graph_has_no_dgl_graph() -> None:
    from hnnframe.errors import GraphError

    with pytest.raises(GraphError, match="empty graph"):
        to_dgl(OpGraph())
