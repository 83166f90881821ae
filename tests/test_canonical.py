"""Canonicalisation passes, each on real exports of the same network by different tools."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch
from support.models import TINY_INPUT, TinyConvNet, TinyResNet, export
from torch import nn

from hnnframe.canonical import (
    CANONICALISERS,
    apply_canonical,
    bypass,
    contract_groups,
)
from hnnframe.errors import RegistryError
from hnnframe.ir import OpGraph, OpNode, from_onnx
from hnnframe.presets import INVARIANT_PASSES, ROBUST_PASSES
from hnnframe.variants import VariantSource, dynamo_export, make_variant, ts_export


def graph(proto: object, name: str = "m") -> OpGraph:
    """Read an exported ModelProto as an upload would be read (weights stripped)."""
    import onnx

    from hnnframe.frontends import strip_weights
    from hnnframe.sources import to_onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    return from_onnx(to_onnx(strip_weights(copy)), name)


def canon(g: OpGraph, passes: list[str] | None = None) -> OpGraph:
    return apply_canonical(g, ROBUST_PASSES if passes is None else passes)


def same(a: OpGraph, b: OpGraph) -> bool:
    return a.content_hash() == b.content_hash()


def isomorphic(a: OpGraph, b: OpGraph) -> bool:
    """Equal up to node order (tools list independent branches in different orders)."""
    import networkx as nx

    def key(n: dict) -> tuple:
        return (n["op"], n["flops"], n["params"])

    return nx.is_isomorphic(
        a.to_networkx(), b.to_networkx(), node_match=lambda x, y: key(x) == key(y)
    )


def x8() -> torch.Tensor:
    return torch.zeros(*TINY_INPUT)


@pytest.fixture(scope="module")
def resnet() -> nn.Module:
    torch.manual_seed(0)
    from hnnframe.variants import randomise_weights

    return randomise_weights(TinyResNet(8, 1), 1).eval()


@pytest.fixture(scope="module")
def convnet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return export(TinyConvNet(), tmp_path_factory.mktemp("canon") / "convnet.onnx")


class Gelu(nn.Module):
    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(8, 16), nn.GELU(approximate), nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Norm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc, self.ln = nn.Linear(8, 8), nn.LayerNorm(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln(self.fc(x))


class Attn(nn.Module):
    """Scaled dot-product attention over a fused qkv projection split with chunk."""

    def __init__(self, d: int = 8) -> None:
        super().__init__()
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).chunk(3, -1)
        b, t, d = x.shape
        q, k, v = (z.view(b, t, 2, d // 2).transpose(1, 2) for z in (q, k, v))
        y = nn.functional.scaled_dot_product_attention(q, k, v)
        return self.out(y.transpose(1, 2).reshape(b, t, d))


class HSwish(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.act = nn.Conv2d(3, 4, 3), nn.Hardswish()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class Adaptive(nn.Module):
    """Adaptive pooling 6 -> 4 (not a divisor) and 4 -> 4 (a no-op), then chunk and cat."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.pool, self.same = nn.AdaptiveAvgPool2d(4), nn.AdaptiveAvgPool2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.same(self.pool(self.conv(x))).chunk(2, 1)
        return torch.cat([torch.cat([a * 2]), b], 1)


# -- the IR field the passes rely on ---------------------------------------------------------------
def test_opnode_const_is_optional_in_json() -> None:
    g = OpGraph([OpNode("Shape", "s", const=True), OpNode("Relu", "r")], [(0, 1)])
    d = g.to_dict()
    assert len(d["nodes"][0]) == 6 and len(d["nodes"][1]) == 5  # old readers see 5 fields
    assert [n.const for n in OpGraph.from_dict(d).nodes] == [True, False]
    old = {"name": "g", "nodes": [["Conv", "c", 10, 3, [1, 2]]], "edges": []}
    assert OpGraph.from_dict(old).nodes[0].const is False


def test_registry_and_helpers() -> None:
    for name in INVARIANT_PASSES:
        assert name in CANONICALISERS
    with pytest.raises(RegistryError, match="valid"):
        CANONICALISERS.get("no_such_pass")
    g = OpGraph([OpNode(op) for op in "ABCD"], [(0, 1), (1, 2), (2, 3)])
    assert bypass(g, {1, 2}).edges == [(0, 1)]
    c = contract_groups(g, [[1, 2]], [OpNode("BC", flops=5)])
    assert c.ops() == ["A", "BC", "D"] and c.edges == [(0, 1), (1, 2)]


# -- one test per pass, on real exports -------------------------------------------------------------
def test_fold_constants_moves_weights_and_drops_shape_arithmetic(resnet: nn.Module) -> None:
    # The dynamo exporter without its optimiser materialises the missing Conv biases from
    # Shape(weight) -> Expand -> CastLike and transposes Linear weights with a Transpose node.
    raw = graph(dynamo_export(resnet, x8(), optimize=False))
    assert any(n.const for n in raw.nodes)
    g = canon(raw, ["fold_constants"])
    assert not any(n.const for n in g.nodes)
    assert {"Shape", "Expand"}.isdisjoint(g.ops())
    assert g.total_params == sum(p.numel() for p in resnet.parameters())


def test_fold_qdq_counts_int8_weights_as_parameters(convnet_file: Path) -> None:
    src = VariantSource(convnet_file)
    _, raw, _ = make_variant("qdq", src)
    assert {"QuantizeLinear", "DequantizeLinear"} <= set(raw.ops())
    g = canon(raw, ["fold_constants", "fold_qdq"])
    assert {"QuantizeLinear", "DequantizeLinear"}.isdisjoint(g.ops())
    orig = canon(from_onnx_file(convnet_file), ["fold_bn"])
    conv = next(n for n in g.nodes if n.op == "Conv")
    assert conv.params == next(n for n in orig.nodes if n.op == "Conv").params
    # Without fold_constants (old graphs), fold_qdq alone recovers the weights too.
    alone = canon(raw, ["fold_qdq"])
    assert sum(n.params for n in alone.nodes if n.op == "Conv") == conv.params


def from_onnx_file(path: Path) -> OpGraph:
    from hnnframe.frontends import load_onnx_file

    return from_onnx(load_onnx_file(path), path.stem)


def test_drop_plumbing_removes_inserted_reshapes(convnet_file: Path) -> None:
    _, raw, _ = make_variant("plumbing", VariantSource(convnet_file))
    assert {"Identity", "Reshape", "Flatten"} <= set(raw.ops())
    orig = from_onnx_file(convnet_file)
    assert same(canon(raw, ["drop_plumbing"]), canon(orig, ["drop_plumbing"]))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_fuse_gelu_decomposed_and_native(approximate: str) -> None:
    torch.manual_seed(0)
    m, x = Gelu(approximate).eval(), torch.zeros(1, 5, 8)
    decomposed = graph(ts_export(m, x, opset=17))  # no Gelu op below opset 20
    assert "Erf" in decomposed.ops() or "Tanh" in decomposed.ops()
    native = graph(dynamo_export(m, x, opset=20))
    assert "Gelu" in native.ops()
    a, b = canon(decomposed), canon(native)
    assert Counter(a.ops())["Gelu"] == 1 and same(a, b)


def test_fuse_layernorm_below_opset17() -> None:
    torch.manual_seed(0)
    m, x = Norm().eval(), torch.zeros(1, 5, 8)
    decomposed = graph(ts_export(m, x, opset=13))
    assert "LayerNormalization" not in decomposed.ops()
    native = graph(ts_export(m, x, opset=17))
    a, b = canon(decomposed), canon(native)
    assert a.ops().count("LayerNormalization") == 1 and same(a, b)
    ln = next(n for n in a.nodes if n.op == "LayerNormalization")
    assert ln.params == 16 and ln.flops == 7 * 5 * 8  # ir convention: 5 + 2 (affine) per element


def test_fuse_attention_across_exporters() -> None:
    torch.manual_seed(0)
    m, x = Attn().eval(), torch.zeros(1, 5, 8)
    variants = [graph(ts_export(m, x, opset=17)), graph(dynamo_export(m, x))]
    variants.append(graph(dynamo_export(m, x, optimize=False)))
    canons = [canon(g) for g in variants]
    for c in canons:
        assert c.ops().count("Attention") == 1 and "Softmax" not in c.ops()
        assert c.ops().count("Split") == 1  # chunk: three Slices, a Split, a SplitToSequence
    assert same(canons[0], canons[1]) and same(canons[0], canons[2])


def test_fuse_hardswish_below_opset14() -> None:
    torch.manual_seed(0)
    m = HSwish().eval()
    old, new = graph(ts_export(m, x8(), opset=13)), graph(ts_export(m, x8(), opset=14))
    assert "HardSigmoid" in old.ops() and "HardSwish" in new.ops()
    assert same(canon(old), canon(new))


def test_fuse_adaptive_pooling_and_noops() -> None:
    torch.manual_seed(0)
    m, x = Adaptive().eval(), torch.zeros(1, 3, 8, 8)
    raw = graph(dynamo_export(m, x))  # 6 -> 4 does not divide: windows gathered and averaged
    assert "GatherND" in raw.ops()
    g = canon(raw, ["fold_constants", "drop_plumbing", "fuse_decompositions", "drop_noop"])
    assert g.ops().count("AveragePool") == 1 and "GatherND" not in g.ops()
    pool = next(n for n in g.nodes if n.op == "AveragePool")
    assert pool.flops == 4 * 6 * 6  # one FLOP per input element, as a pooling window


def test_normalise_spelling_pooling_and_splits() -> None:
    class Chunky(TinyConvNet):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            a, b = self.relu(self.bn(self.conv(x))).chunk(2, 1)
            x = self.pool(torch.cat([b, a], 1))
            return self.fc(torch.flatten(x, 1))

    torch.manual_seed(0)
    m = Chunky().eval()
    ts, dyn = graph(ts_export(m, x8())), graph(dynamo_export(m, x8()))
    assert "GlobalAveragePool" in ts.ops() and "Slice" in ts.ops()
    assert "ReduceMean" in dyn.ops() and "Split" in dyn.ops()
    passes = ["fold_constants", "drop_plumbing", "normalise_spelling", "fold_bn"]
    a, b = canon(ts, passes), canon(dyn, passes)
    assert a.ops().count("Split") == 1 and "ReduceMean" not in b.ops()
    assert same(a, b)


def test_drop_noop_pooling_and_single_concat() -> None:
    torch.manual_seed(0)
    m = Adaptive().eval()
    m.pool = nn.Identity()  # 6x6 -> AdaptiveAvgPool2d(4) only
    m.same = nn.AdaptiveAvgPool2d(6)  # 6x6 -> 6x6: a 1x1 AveragePool
    raw = graph(ts_export(m, x8()))
    assert "AveragePool" in raw.ops()
    g = canon(raw, ["drop_plumbing", "drop_noop"])
    assert "AveragePool" not in g.ops()
    assert g.ops().count("Concat") == 1  # cat([a * 2]) of one tensor is gone


def test_strip_preprocessing_removes_normalisation(convnet_file: Path) -> None:
    _, raw, _ = make_variant("normalize", VariantSource(convnet_file))
    assert raw.ops()[:2] == ["Sub", "Div"]
    orig = from_onnx_file(convnet_file)
    passes = ["strip_preprocessing"]
    assert same(canon(raw, passes), canon(orig, passes))


def test_fold_bn_matches_constant_folding(resnet: nn.Module) -> None:
    kept = graph(ts_export(resnet, x8()))
    folded = graph(
        ts_export(resnet, x8(), training=torch.onnx.TrainingMode.EVAL, do_constant_folding=True)
    )
    assert "BatchNormalization" in kept.ops() and "BatchNormalization" not in folded.ops()
    a, b = canon(kept, ["fold_bn"]), canon(folded, ["fold_bn"])
    assert same(a, b) and a.total_params < kept.total_params


def test_fold_qdq_restores_the_relu_the_quantizer_deleted(convnet_file: Path) -> None:
    # onnxruntime's QDQ quantizer deletes the ReLU (the quantization range clips at 0).
    _, q, _ = make_variant("qdq", VariantSource(convnet_file))
    assert "Relu" not in q.ops()
    clamps = [n.clamp for n in q.nodes if n.op == "QuantizeLinear"]
    assert clamps and all(c is not None for c in clamps)
    assert any(c[0] == 0.0 for c in clamps) and any(c[0] < 0.0 for c in clamps)
    orig = from_onnx_file(convnet_file)
    assert "Relu" in orig.ops()
    assert same(canon(q), canon(orig))
    # The range survives the graph cache (to_dict/from_dict).
    assert same(canon(OpGraph.from_dict(q.to_dict())), canon(orig))
    # absorb_activation (INVARIANT_PASSES) makes them equal by dropping every ReLU instead.
    with_absorb = [*ROBUST_PASSES, "absorb_activation"]
    assert same(canon(q, with_absorb), canon(orig, with_absorb))
    assert "Relu" not in canon(orig, with_absorb).ops()


def test_fold_qdq_restores_a_saturated_relu6_as_clip(tmp_path: Path) -> None:
    # Calibration data that drives the ReLU6 into saturation (as real data does) leaves the
    # quantizer's range at exactly [0, 6]: the deleted activation was a ReLU6, not a ReLU.
    import numpy as np
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.act = nn.Conv2d(3, 4, 3, padding=1), nn.ReLU6()
            self.conv2, self.fc = nn.Conv2d(4, 4, 1), nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.conv2(self.act(self.conv(x))).mean((2, 3))
            return self.fc(x)

    torch.manual_seed(0)
    m = Net().eval()
    with torch.no_grad():
        m.conv.weight.mul_(50.0)  # outputs far beyond 6 on positive inputs
    fp32, q = tmp_path / "fp32.onnx", tmp_path / "q.onnx"
    fp32.write_bytes(ts_export(m, x8()).SerializeToString())

    class Reader(CalibrationDataReader):
        def __init__(self, name: str) -> None:
            rng = np.random.default_rng(0)
            shape = TINY_INPUT
            self.items = iter([{name: rng.random(shape, dtype=np.float32)} for _ in range(4)])

        def get_next(self) -> dict | None:
            return next(self.items, None)

    name = onnx.load(str(fp32)).graph.input[0].name
    quantize_static(str(fp32), str(q), Reader(name), quant_format=QuantFormat.QDQ)
    quantized = graph(onnx.load(str(q)))
    orig = graph(onnx.load(str(fp32)))
    assert "Clip" in orig.ops() and "Clip" not in quantized.ops()
    assert "Clip" in canon(quantized).ops() and "Relu" not in canon(quantized).ops()
    assert isomorphic(canon(quantized), canon(orig))


def test_fold_qdq_without_ranges_bridges_every_quantizer(convnet_file: Path) -> None:
    # A file whose quantizer scales are gone (external data) cannot say which Q clips.
    _, q, _ = make_variant("qdq", VariantSource(convnet_file))
    blind = OpGraph(
        [OpNode(n.op, n.name, n.flops, n.params, n.shape, n.const) for n in q.nodes],
        q.edges,
        q.name,
    )
    assert "Relu" not in canon(blind).ops()


def test_structure_hash_ignores_node_order() -> None:
    nodes = [
        OpNode("Conv", "a", 10, 3),
        OpNode("Relu", "b", 1),
        OpNode("Conv", "c", 20, 5),
        OpNode("Add", "d", 1),
    ]
    g = OpGraph(nodes, [(0, 1), (1, 3), (2, 3)])
    # The same graph with its two branches listed the other way round.
    h = OpGraph([nodes[2], nodes[0], nodes[1], nodes[3]], [(1, 2), (2, 3), (0, 3)])
    assert g.content_hash() != h.content_hash()
    assert g.structure_hash() == h.structure_hash()
    other = OpGraph(nodes, [(0, 1), (1, 3), (2, 1)])
    assert other.structure_hash() != g.structure_hash()


def test_dynamic_batch_export_counts_flops_for_one_sample(resnet: nn.Module) -> None:
    static = graph(ts_export(resnet, x8()))
    dynamic = graph(ts_export(resnet, x8(), dynamic_batch=True))
    assert static.total_flops > 0
    assert same(canon(static), canon(dynamic))


def test_normalise_resolution_rescales_flops() -> None:
    torch.manual_seed(0)
    m = TinyConvNet().eval()
    small = graph(ts_export(m, torch.zeros(1, 3, 8, 8)))
    large = graph(ts_export(m, torch.zeros(1, 3, 16, 16)))
    assert large.total_flops > 3 * small.total_flops
    passes = ["drop_plumbing", "normalise_resolution"]
    a, b = canon(small, passes), canon(large, passes)
    assert [n.flops for n in a.nodes] == pytest.approx([n.flops for n in b.nodes], rel=1e-6)
    gemm = [n.flops for n in a.nodes if n.op == "Gemm"]
    assert gemm == [n.flops for n in small.nodes if n.op == "Gemm"]  # not a spatial op


def test_normalise_resolution_drops_the_classifier_pooling() -> None:
    class Head(nn.Module):  # VGG's shape: Conv -> AdaptiveAvgPool2d -> flatten -> Linear
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.pool, self.fc = (
                nn.Conv2d(3, 4, 3, padding=1),
                nn.AdaptiveAvgPool2d(2),
                nn.Linear(16, 2),
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(torch.flatten(self.pool(self.conv(x)), 1))

    torch.manual_seed(0)
    m = Head().eval()
    native = graph(ts_export(m, torch.zeros(1, 3, 2, 2)))  # 2x2 map: the pooling is a no-op
    large = graph(ts_export(m, torch.zeros(1, 3, 8, 8)))  # 8x8 map: a real 4x4 AveragePool
    assert "AveragePool" in large.ops()
    a, b = canon(native), canon(large)
    assert a.ops() == b.ops() == ["Conv", "Gemm"]  # drop_classifier_pool
    assert not same(a, b)  # the Conv's FLOPs differ ...
    assert same(canon(native, INVARIANT_PASSES), canon(large, INVARIANT_PASSES))  # ... until now


def test_robust_passes_on_torchvision_exports() -> None:
    """squeezenet1_1 through the dynamo exporter, onnxsim, opset 11, a wrapper, QDQ."""
    src = VariantSource("torchvision:squeezenet1_1")
    ref = graph(src.reference(), "squeezenet1_1")
    for t in ("dynamo", "onnxsim", "opset11", "normalize", "qdq", "dynamic_batch"):
        _, raw, _ = make_variant(t, src)
        assert isomorphic(canon(raw), canon(ref)), t
