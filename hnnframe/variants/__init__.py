"""Variants of a model: the same network as it reaches a platform through other tools.

A pirate does not upload our exact ONNX file. The same network is re-exported with the other
torch exporter, folded, simplified, quantized, wrapped, or exported at another input size,
and its graph changes a lot. Each entry of :data:`TRANSFORMS` (``hnn list`` shows them)
produces one such variant with the real tool (torch.onnx, onnxsim, onnxruntime), from a
torchvision module with random, non-degenerate weights or from an ONNX file
(:mod:`~hnnframe.variants.sources`). Transforms that need the torch module (another exporter,
another input size) do not apply to files and raise :class:`VariantUnavailable`.

Weights matter only inside the tools: every variant is weight-stripped
(:func:`hnnframe.frontends.strip_weights`) and read as the platform would read an upload
(:func:`hnnframe.sources.to_onnx`, then :func:`hnnframe.ir.from_onnx`).

``listed`` transforms are those named in the robustness issue
(:mod:`~hnnframe.variants.transforms`); the others (:mod:`~hnnframe.variants.unlisted`) are
evaluated separately as a check that the invariance is general (``docs/robustness.md``).
``derived`` transforms (:mod:`~hnnframe.variants.derived`) make derived architectures (a new
head, one layer fewer, ...), not copies: protocol (c) scores them by whether their source is
nearest, and the robustness suite leaves them out. Variants are made and cached by
:mod:`~hnnframe.variants.cache`.

Modules: ``base`` (Transform, the registry, errors), ``exporters`` (the torch exporters and
small ONNX helpers), ``inputs`` (modalities, calibration data), ``sources``, ``transforms``,
``hub_transforms`` (the hub issue's: attention kernels, opset 23, onnxruntime's dynamic
quantization, float16 converter and fusions), ``tool_transforms`` (onnxslim, the version
converter, onnxconverter-common's float16), ``unlisted``, ``derived`` (derived architectures)
with ``pruning`` (its module surgery), ``cache``.
"""

from __future__ import annotations

# transforms, hub_transforms, tool_transforms, unlisted and derived register their entries in
# TRANSFORMS when imported, in this order: the order of the robustness tables (the robustness
# issue's list, the hub issue's, the canonical-identity issue's, the held-out ones), then the
# derived architectures (not copies: no robustness table lists them).
from hnnframe.variants import transforms as _transforms  # noqa: F401

# isort: split
from hnnframe.variants import hub_transforms as _hub_transforms  # noqa: F401

# isort: split
from hnnframe.variants import tool_transforms as _tool_transforms  # noqa: F401

# isort: split
from hnnframe.frontends.torch_export import dynamo_export, quiet_fds, ts_export
from hnnframe.variants import unlisted as _unlisted  # noqa: F401

# isort: split
from hnnframe.variants import derived as _derived  # noqa: F401
from hnnframe.variants.base import (
    TRANSFORMS,
    Transform,
    VariantError,
    VariantUnavailable,
    copy_transforms,
    derived_transforms,
    get_transform,
    listed_transforms,
    transform,
    transform_names,
    unlisted_transforms,
)
from hnnframe.variants.cache import (
    VARIANT_FORMAT,
    Variant,
    build_variants,
    load_cached,
    make_variant,
    reader_version,
    variant_dir,
    variant_graph,
)
from hnnframe.variants.sources import VariantSource, fill_weights, randomise_weights
from hnnframe.variants.transforms import RESOLUTIONS

__all__ = [
    "RESOLUTIONS",
    "TRANSFORMS",
    "VARIANT_FORMAT",
    "Transform",
    "Variant",
    "VariantError",
    "VariantSource",
    "VariantUnavailable",
    "build_variants",
    "copy_transforms",
    "derived_transforms",
    "dynamo_export",
    "fill_weights",
    "get_transform",
    "listed_transforms",
    "load_cached",
    "make_variant",
    "quiet_fds",
    "randomise_weights",
    "reader_version",
    "transform",
    "transform_names",
    "ts_export",
    "unlisted_transforms",
    "variant_dir",
    "variant_graph",
]
