"""Held-out transforms (``listed=False``, not in the robustness issue's list), evaluated
separately as a check that the invariance is general (``docs/robustness.md``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from hnnframe.frontends.torch_export import dynamo_export
from hnnframe.variants.base import transform
from hnnframe.variants.exporters import (
    input_name,
    reparsed,
    rewire_input,
    run_quiet,
)
from hnnframe.variants.sources import VariantSource


@transform(
    "dynamo_noopt",
    listed=False,
    needs_module=True,
    description="torch.onnx.export(dynamo=True, optimize=False): BN kept, bias plumbing",
)
def _dynamo_noopt(src: VariantSource) -> Any:
    return dynamo_export(src.module(), src.example_input(), optimize=False)


@transform(
    "ort_basic",
    listed=False,
    needs_module=False,
    description="onnxruntime offline graph optimisation (basic level) saved as ONNX",
)
def _ort_basic(src: VariantSource) -> Any:
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as d:
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        so.optimized_model_filepath = str(Path(d) / "opt.onnx")
        so.intra_op_num_threads = 1
        so.log_severity_level = 3
        blob = src.reference().SerializeToString()
        run_quiet(lambda: ort.InferenceSession(blob, so, providers=["CPUExecutionProvider"]))
        return onnx.load(so.optimized_model_filepath)


def _rename_output(g: Any, new: str) -> str:
    """Let the node that writes the graph's first output write ``new``; returns the old name."""
    out = str(g.output[0].name)
    for node in g.node:
        node.output[:] = [new if o == out else o for o in node.output]
    return out


@transform(
    "fp16",
    listed=False,
    needs_module=False,
    description="float16 weights and compute, Cast at the input and output",
)
def _fp16(src: VariantSource) -> Any:
    from onnx import TensorProto, helper, numpy_helper

    model = src.structure()
    g = model.graph
    for t in g.initializer:
        if t.data_type == TensorProto.FLOAT:
            t.data_type = TensorProto.FLOAT16
    for node in g.node:
        for a in node.attribute:
            if a.name == "value" and a.t.data_type == TensorProto.FLOAT:
                arr = numpy_helper.to_array(a.t).astype(np.float16)
                a.t.CopyFrom(numpy_helper.from_array(arr, a.t.name))
            if node.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.FLOAT16
    inp = input_name(model)
    rewire_input(g, inp, "input_fp16")
    out = _rename_output(g, "output_fp16")
    nodes = [
        helper.make_node("Cast", [inp], ["input_fp16"], to=TensorProto.FLOAT16),
        *g.node,
        helper.make_node("Cast", ["output_fp16"], [out], to=TensorProto.FLOAT),
    ]
    del g.node[:]
    g.node.extend(nodes)
    return reparsed(model)


@transform(
    "train_mode",
    listed=False,
    needs_module=True,
    description="TorchScript exporter in training mode (Dropout kept, BN with batch statistics)",
)
def _train_mode(src: VariantSource) -> Any:
    import torch

    module = src.module().train()
    return src.export(module, training=torch.onnx.TrainingMode.TRAINING)


@transform(
    "softmax_head",
    listed=False,
    needs_module=False,
    description="a Softmax appended to the logits (a deployment wrapper)",
)
def _softmax_head(src: VariantSource) -> Any:
    from onnx import helper

    model = src.structure()
    g = model.graph
    out = _rename_output(g, "logits")
    g.node.append(helper.make_node("Softmax", ["logits"], [out], axis=-1))
    return reparsed(model)


@transform(
    "dynamic_batch",
    listed=False,
    needs_module=False,
    description="exported with a dynamic batch axis (symbolic first input dimension)",
)
def _dynamic_batch(src: VariantSource) -> Any:
    if src.is_module:
        return src.export(dynamic_batch=True)
    model = src.structure()
    for vi in [*model.graph.input, *model.graph.output]:
        dims = vi.type.tensor_type.shape.dim
        if dims:
            dims[0].ClearField("dim_value")
            dims[0].dim_param = "batch"
    return reparsed(model)
