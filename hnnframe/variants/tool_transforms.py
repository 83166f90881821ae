"""The canonical-identity issue's tools (issue 22, ``listed=True``): what else a hub user runs
over an ONNX file before uploading it.

* ``onnxslim``: onnxslim's ``slim`` (constant folding, dead-code removal, its own fusions of
  Gelu, LayerNorm and Conv/BN): the other simplifier beside onnxsim.
* ``version_converter``: ``onnx.version_converter.convert_version`` of the reference to
  opset 21 (``Split``/``Squeeze``/``Reduce*`` take their axes as inputs, ``Resize`` and
  ``Pad`` change spelling).
* ``converter_fp16``: onnxconverter-common's float16 converter (``float16.
  convert_float_to_float16``, float32 inputs and outputs kept), the package the onnxruntime copy
  (``ort_fp16``) was forked from; its Cast placement differs.
"""

from __future__ import annotations

from typing import Any

from hnnframe.variants.base import transform
from hnnframe.variants.exporters import run_quiet
from hnnframe.variants.sources import VariantSource

CONVERTER_OPSET = 21


@transform(
    "onnxslim",
    listed=True,
    needs_module=False,
    description="onnxslim's slim (folding, dead code, Gelu/LayerNorm/Conv-BN fusions)",
)
def _onnxslim(src: VariantSource) -> Any:
    import onnxslim

    model = src.reference()
    return run_quiet(lambda: onnxslim.slim(model))


@transform(
    "version_converter",
    listed=True,
    needs_module=False,
    description=f"onnx.version_converter to opset {CONVERTER_OPSET}",
)
def _version_converter(src: VariantSource) -> Any:
    from onnx import version_converter

    model = src.reference()
    return run_quiet(lambda: version_converter.convert_version(model, CONVERTER_OPSET))


@transform(
    "converter_fp16",
    listed=True,
    needs_module=False,
    description="onnxconverter-common's float16 converter (float32 inputs and outputs kept)",
)
def _converter_fp16(src: VariantSource) -> Any:
    from onnxconverter_common import float16

    model = src.deployed()
    return run_quiet(lambda: float16.convert_float_to_float16(model, keep_io_types=True))
