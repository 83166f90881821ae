"""The robustness issue's transforms (``listed=True``): other exporters, folding, simplifying,
quantizing, inserted plumbing, another input size and a normalising wrapper.

Each produces its variant with the real tool (torch.onnx, onnxsim, onnxruntime). Transforms
that need the torch module (another exporter, another input size) do not apply to files.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from hnnframe.frontends import INPUT_SIZES
from hnnframe.frontends.torch_export import dynamo_export
from hnnframe.variants.base import VariantError, VariantUnavailable, transform
from hnnframe.variants.exporters import (
    input_name,
    input_shape,
    reparsed,
    rewire_input,
    run_quiet,
    static_shapes,
)
from hnnframe.variants.inputs import IMAGE, TEXT, calibration_feeds
from hnnframe.variants.sources import VariantSource

RESOLUTIONS = (256, 448, 416, 320, 288, 192)
# Sequence lengths of the text ``resolution`` variant: the first below the trigger's length.
TEXT_LENGTHS = (64, 96, 32, 16)


@transform(
    "dynamo",
    listed=True,
    needs_module=True,
    description="torch.onnx.export(dynamo=True), default optimisation (BN folded, ReduceMean)",
)
def _dynamo(src: VariantSource) -> Any:
    return dynamo_export(src.module(), src.example_input())


@transform(
    "bn_folded",
    listed=True,
    needs_module=True,
    description="TorchScript exporter in eval mode with constant folding (BN folded into Conv)",
)
def _bn_folded(src: VariantSource) -> Any:
    return src.deployed()


@transform(
    "opset11",
    listed=True,
    needs_module=True,
    description="TorchScript exporter at opset 11 instead of 17",
)
def _opset11(src: VariantSource) -> Any:
    return src.export(opset=11)


@transform(
    "onnxsim",
    listed=True,
    needs_module=False,
    description="onnxsim.simplify (constant folding, BN fusion, shape plumbing removed)",
)
def _onnxsim(src: VariantSource) -> Any:
    import onnxsim

    model, ok = run_quiet(lambda: onnxsim.simplify(src.reference()))
    if not ok:
        raise VariantError("onnxsim could not validate the simplified model")
    return model


def _quantize(src: VariantSource, fmt: str) -> Any:
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    class RandomReader(CalibrationDataReader):
        """Calibration data for onnxruntime's quantizer: two random feeds of the model's
        input types (images in [0, 1), token ids within the vocabulary)."""

        def __init__(self, model: Any, seed: int) -> None:
            self.items = iter(calibration_feeds(model, seed))

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    model = src.deployed()
    reader = RandomReader(model, src.seed)
    with tempfile.TemporaryDirectory() as d:
        fp32, q = Path(d) / "fp32.onnx", Path(d) / "q.onnx"
        fp32.write_bytes(model.SerializeToString())
        run_quiet(
            lambda: quantize_static(
                str(fp32), str(q), reader, quant_format=getattr(QuantFormat, fmt)
            )
        )
        return onnx.load(str(q))


@transform(
    "qdq",
    listed=True,
    needs_module=False,
    description="onnxruntime quantize_static, QDQ format, int8 (QuantizeLinear/DequantizeLinear)",
)
def _qdq(src: VariantSource) -> Any:
    return _quantize(src, "QDQ")


@transform(
    "plumbing",
    listed=True,
    needs_module=False,
    description="Identity, Reshape and Flatten->Reshape inserted after every activation",
)
def _plumbing(src: VariantSource) -> Any:
    from onnx import helper, numpy_helper

    model = src.structure()
    shapes = static_shapes(model)
    graph = model.graph
    outputs = {o.name for o in graph.output}
    rename: dict[str, str] = {}
    nodes: list[Any] = []
    inits: list[Any] = []

    def fresh(base: str, tag: str) -> str:
        return f"{base}__{tag}"

    inp = input_name(model)
    rename[inp] = fresh(inp, "id")
    nodes.append(helper.make_node("Identity", [inp], [rename[inp]], name=f"{inp}/identity"))
    k = 0
    for node in graph.node:
        node.input[:] = [rename.get(i, i) for i in node.input]
        nodes.append(node)
        if node.op_type == "Constant" or not node.output:
            continue
        out = node.output[0]
        shp = shapes.get(out)
        if out in outputs or shp is None or len(shp) < 2:
            continue
        kind = k % 3
        k += 1
        if kind == 0:
            rename[out] = fresh(out, "id")
            nodes.append(helper.make_node("Identity", [out], [rename[out]]))
        elif kind == 1:
            target = fresh(out, "shape")
            inits.append(numpy_helper.from_array(np.array(shp, dtype=np.int64), target))
            rename[out] = fresh(out, "reshaped")
            nodes.append(helper.make_node("Reshape", [out, target], [rename[out]]))
        elif len(shp) == 4:
            target = fresh(out, "shape")
            inits.append(numpy_helper.from_array(np.array(shp, dtype=np.int64), target))
            flat = fresh(out, "flat")
            rename[out] = fresh(out, "unflat")
            nodes.append(helper.make_node("Flatten", [out], [flat], axis=1))
            nodes.append(helper.make_node("Reshape", [flat, target], [rename[out]]))
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(inits)
    return reparsed(model)


@transform(
    "resolution",
    listed=True,
    needs_module=True,
    description="exported at another input size (first of 256, 448, 416, 320, ... that exports; "
    "text: 64 tokens)",
)
def _resolution(src: VariantSource) -> Any:
    if src.modality not in (IMAGE, TEXT):
        raise VariantUnavailable(f"{src.name}: a {src.modality} input has a fixed size")
    if src.scheme == "torchvision":
        base = INPUT_SIZES.get(src.name, (3, 224, 224))[-1]
    else:
        base = src.base_size()
    sizes = RESOLUTIONS if src.modality == IMAGE else TEXT_LENGTHS
    errors = []
    for size in sizes:
        if size == base or (src.modality == TEXT and size > base):
            continue
        try:
            model = src.export(x=src.example_input(size))
        except Exception as e:  # adaptive pooling to a size that does not divide the map
            errors.append(f"{size}: {str(e).splitlines()[0][:80]}")
            continue
        model.doc_string = f"resolution {size}"
        return model
    raise VariantError("no input size exports: " + "; ".join(errors))


def _normalize_module() -> Any:
    import torch
    from torch import nn

    class Normalize(nn.Module):
        """torchvision's ImageNet normalisation as a layer."""

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (x - self.mean) / self.std

    return Normalize()


@transform(
    "normalize",
    listed=True,
    needs_module=False,
    description="a wrapper module that normalises the input ((x - mean) / std) in front",
)
def _normalize(src: VariantSource) -> Any:
    from torch import nn

    if src.modality != IMAGE:
        raise VariantUnavailable(f"{src.name}: normalisation applies to images, not {src.modality}")
    if src.is_module:
        return src.export(nn.Sequential(_normalize_module(), src.module()))
    from onnx import helper, numpy_helper

    model = src.structure()
    shape = input_shape(model)
    if len(shape) != 4:
        raise VariantUnavailable(f"{src.name}: the input is not an image batch")
    c = shape[1]
    inp = input_name(model)
    rng = np.random.default_rng(src.seed)
    mean = numpy_helper.from_array(rng.random((1, c, 1, 1), dtype=np.float32), "norm_mean")
    std = numpy_helper.from_array(rng.random((1, c, 1, 1), dtype=np.float32) + 0.5, "norm_std")
    rewire_input(model.graph, inp, "norm_out")
    pre = [
        helper.make_node("Sub", [inp, "norm_mean"], ["norm_centred"]),
        helper.make_node("Div", ["norm_centred", "norm_std"], ["norm_out"]),
    ]
    nodes = pre + list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    model.graph.initializer.extend([mean, std])
    return reparsed(model)
