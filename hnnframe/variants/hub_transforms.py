"""The hub issue's transforms (issue 15, ``listed=True``): what else turns one network into
another graph once transformers and timm models come in.

* ``attention``: the other attention implementation. transformers models are exported with
  eager attention (:mod:`hnnframe.frontends.hf`); this variant builds them with
  ``attn_implementation="sdpa"`` (``torch.nn.functional.scaled_dot_product_attention``).
  timm's attention layers use SDPA by default (``fused_attn``); this variant turns it off.
* ``dynamo_opset23``: the dynamo exporter at opset 23, whose native ``Gelu`` (opset 20),
  ``RMSNormalization`` and ``Attention`` (opset 23) replace the decompositions of opset 17.
* ``ort_dynamic``: onnxruntime's dynamic quantization (``quantize_dynamic``): int8 weights,
  ``DynamicQuantizeLinear`` on activations, ``MatMulInteger``/``ConvInteger``.
* ``ort_fp16``: onnxruntime's float16 converter (``convert_float_to_float16``, inputs and
  outputs kept float32): the tool a hub user runs to halve a model's size.
* ``ort_extended``: onnxruntime's offline graph optimisation at the extended level saved as
  ONNX: contrib fusions (``FusedConv``, ``Gelu``, ``LayerNormalization``, ``FusedMatMul``,
  ``SkipLayerNormalization``, ...).
* ``ort_transformer``: onnxruntime's transformer optimizer
  (``onnxruntime.transformers.optimizer.optimize_model``, Python fusions only, no network):
  ``SkipLayerNormalization``, ``FastGelu``/``BiasGelu``, ``Attention``,
  ``EmbedLayerNormalization``, ``SimplifiedLayerNormalization``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hnnframe.frontends.torch_export import dynamo_export
from hnnframe.variants.base import VariantUnavailable, transform
from hnnframe.variants.exporters import run_quiet
from hnnframe.variants.sources import VariantSource

# transformers model types that onnxruntime's transformer optimizer has a fusion set for;
# every other text or vision model gets the BERT set (the generic one).
_ORT_MODEL_TYPES = {
    "gpt2": "gpt2",
    "bart": "bart",
    "t5": "t5",
    "vit": "vit",
    "swin": "swin",
    "clip": "clip",
    "gpt_neox": "gpt_neox",
    "phi": "phi",
}


@transform(
    "attention",
    listed=True,
    needs_module=True,
    description="the other attention implementation: SDPA for transformers, eager for timm",
)
def _attention(src: VariantSource) -> Any:
    if src.scheme == "hf":
        return src.export(src.module(attn="sdpa"))
    module = src.module()
    layers = [m for m in module.modules() if isinstance(getattr(m, "fused_attn", None), bool)]
    if not layers:
        raise VariantUnavailable(f"{src.name}: no attention layer with a choice of kernel")
    for m in layers:
        m.fused_attn = not m.fused_attn
    return src.export(module)


@transform(
    "dynamo_opset23",
    listed=True,
    needs_module=True,
    description="torch.onnx.export(dynamo=True) at opset 23 (native Gelu, RMSNormalization, "
    "Attention)",
)
def _dynamo_opset23(src: VariantSource) -> Any:
    return dynamo_export(src.module(), src.example_input(), opset=23)


def _through_files(src_model: Any, tool: Any) -> Any:
    """Write ``src_model``, let ``tool(in_path, out_path)`` write its output, load it."""
    import onnx

    with tempfile.TemporaryDirectory() as d:
        fp32, out = Path(d) / "fp32.onnx", Path(d) / "out.onnx"
        fp32.write_bytes(src_model.SerializeToString())
        run_quiet(lambda: tool(str(fp32), str(out)))
        return onnx.load(str(out))


@transform(
    "ort_dynamic",
    listed=True,
    needs_module=False,
    description="onnxruntime quantize_dynamic, int8 weights (MatMulInteger, ConvInteger, "
    "DynamicQuantizeLinear)",
)
def _ort_dynamic(src: VariantSource) -> Any:
    from onnxruntime.quantization import quantize_dynamic

    return _through_files(src.deployed(), lambda a, b: quantize_dynamic(a, b))


@transform(
    "ort_fp16",
    listed=True,
    needs_module=False,
    description="onnxruntime's float16 converter (convert_float_to_float16, float32 inputs and "
    "outputs kept)",
)
def _ort_fp16(src: VariantSource) -> Any:
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = src.deployed()
    return run_quiet(lambda: convert_float_to_float16(model, keep_io_types=True))


@transform(
    "ort_extended",
    listed=True,
    needs_module=False,
    description="onnxruntime offline graph optimisation (extended level: contrib fusions) "
    "saved as ONNX",
)
def _ort_extended(src: VariantSource) -> Any:
    import onnxruntime as ort

    def optimise(a: str, b: str) -> None:
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        so.optimized_model_filepath = b
        so.intra_op_num_threads = 1
        so.log_severity_level = 3
        ort.InferenceSession(a, so, providers=["CPUExecutionProvider"])

    return _through_files(src.reference(), optimise)


def _ort_model_type(src: VariantSource) -> str:
    if src.scheme == "hf":
        return _ORT_MODEL_TYPES.get(str(getattr(src.config(), "model_type", "")), "bert")
    return "bert"


@transform(
    "ort_transformer",
    listed=True,
    needs_module=False,
    description="onnxruntime.transformers optimize_model fusions (SkipLayerNormalization, "
    "FastGelu, Attention, ...)",
)
def _ort_transformer(src: VariantSource) -> Any:
    from onnxruntime.transformers.optimizer import optimize_model

    model_type = _ort_model_type(src) if src.is_module else "bert"
    model = src.deployed()

    def optimise(a: str, b: str) -> None:
        # opt_level 0: the Python fusions alone; onnxruntime's own (C++) optimiser is the
        # ort_extended variant.
        optimize_model(a, model_type=model_type, opt_level=0, use_gpu=False).save_model_to_file(b)

    return _through_files(model, optimise)
