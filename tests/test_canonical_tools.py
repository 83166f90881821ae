"""Issue 22's canonicalisation on real exports: transposes and one-value arithmetic that tools
move or fold (hnnframe/canonical/movable.py), TensorFlow-style "same" padding computed from
constants (hnnframe/frontends/shapes.py), one-value initializers (hnnframe/ir/onnx.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from support.hub import ops, prepared

from hnnframe.frontends import load_onnx_file, strip_weights
from hnnframe.frontends.torch_export import ts_export
from hnnframe.ir import from_onnx
from hnnframe.variants import VariantSource, make_variant


class _TokenMixer(torch.nn.Module):
    """ResMLP's block (timm ``resmlp``): an affine ``addcmul`` norm, a Linear across the
    tokens between two transposes, a layer scale; then a channel MLP."""

    def __init__(self, tokens: int = 16, dim: int = 24) -> None:
        super().__init__()
        self.alpha = torch.nn.Parameter(torch.rand(dim) + 0.5)
        self.beta = torch.nn.Parameter(torch.rand(dim))
        self.mix = torch.nn.Linear(tokens, tokens)
        self.scale = torch.nn.Parameter(torch.rand(dim) + 0.5)
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(dim, 2 * dim), torch.nn.GELU(), torch.nn.Linear(2 * dim, dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.addcmul(self.beta, self.alpha, x)
        x = x + self.scale * self.mix(y.transpose(1, 2)).transpose(1, 2)
        return x + self.mlp(x)


class _SamePadNet(torch.nn.Module):
    """A stem with TensorFlow-style "same" padding computed at run time (timm's
    ``Conv2dSame``, the ``tf_*`` models), then a classifier."""

    def __init__(self) -> None:
        super().__init__()
        from timm.layers import create_conv2d

        self.stem = create_conv2d(3, 8, 3, stride=2, padding="same")
        self.head = torch.nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.stem(x)).mean((2, 3)))


def _export(module: torch.nn.Module, x: torch.Tensor, path: Path) -> Path:
    torch.manual_seed(0)
    module.eval()
    path.write_bytes(ts_export(module, x).SerializeToString())
    return path


def _same(path: Path, transform: str) -> bool:
    src = VariantSource(path)
    ref = from_onnx(load_onnx_file(path))
    copy = make_variant(transform, src)[1]
    return prepared(ref).structure_hash() == prepared(copy).structure_hash()


@pytest.mark.parametrize("transform", ["ort_basic", "onnxsim", "onnxslim"])
def test_moved_transposes_and_folded_scalars_leave_one_graph(
    tmp_path: Path, transform: str
) -> None:
    path = _export(_TokenMixer(), torch.randn(1, 16, 24), tmp_path / "mixer.onnx")
    raw = from_onnx(load_onnx_file(path))
    assert ops(raw)["Transpose"] >= 2 and ops(raw)["Mul"] >= 2  # addcmul's Mul by 1 included
    assert "Transpose" not in ops(prepared(raw))
    assert _same(path, transform)


def test_same_padding_from_constants_has_shapes(tmp_path: Path) -> None:
    path = _export(_SamePadNet(), torch.randn(1, 3, 32, 32), tmp_path / "same.onnx")
    g = from_onnx(load_onnx_file(path))
    conv = next(n for n in g.nodes if n.op == "Conv")
    assert conv.shape == (1, 8, 16, 16) and conv.flops > 0
    gemm = next(n for n in g.nodes if n.op in ("Gemm", "MatMul") and n.params)
    assert gemm.shape is not None and None not in gemm.shape and gemm.flops > 0
    assert _same(path, "ort_basic")
    # onnxruntime's float16 converter: the pads' constants become float16 initializers, the
    # input's Cast is listed after its consumers, and its own symbols fill value_info.
    assert _same(path, "ort_fp16") and _same(path, "converter_fp16")


def test_a_one_value_initializer_is_no_parameter() -> None:
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    one = numpy_helper.from_array(np.array([0.5], dtype=np.float32), "half")
    four = numpy_helper.from_array(np.ones(4, dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "half"], ["h"]), helper.make_node("Add", ["h", "w"], ["y"])],
        "g",
        [x],
        [y],
        [one, four],
    )
    model = strip_weights(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    g = from_onnx(model)
    assert [(n.op, n.params) for n in g.nodes] == [("Mul", 0), ("Add", 4)]


def test_embed_layer_normalization_is_the_lookup_and_the_norm() -> None:
    from support.hub import same_after, variant

    # onnxruntime's transformer optimizer fuses DistilBERT's embeddings and their LayerNorm.
    assert ops(variant("hf:distilbert:tiny", "ort_transformer"))["EmbedLayerNormalization"]
    assert same_after("hf:distilbert:tiny", "ort_transformer")


def test_a_shared_weight_is_a_gemm_of_its_size() -> None:
    from support.hub import prepared, reference

    # ALBERT's layers share one set of weights: the ir counts each tensor once, so the
    # second layer's products read a weight already counted.
    sizes = "num_hidden_layers=2,hidden_size=32,num_attention_heads=2,intermediate_size=64"
    g = prepared(reference(f"hf:albert:{sizes},embedding_size=32"))
    gemms = [n for n in g.nodes if n.op == "Gemm"]
    assert "MatMul" not in ops(g) and all(n.params > 0 for n in gemms)
