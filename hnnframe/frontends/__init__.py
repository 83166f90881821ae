"""Frontends: f_onnx of the paper (section 3.2.1), any model to an ONNX ModelProto.

Accepted sources (specs are parsed in :mod:`hnnframe.frontends.sources`):

* a ``torch.nn.Module`` (with an example input; default the paper's trigger, a zero tensor);
* ``"torchvision:NAME"`` and ``"timm:NAME"``, built without pretrained weights because
  structure, FLOPs and parameter counts do not depend on weight values
  (:mod:`~hnnframe.frontends.torchvision`, :mod:`~hnnframe.frontends.timm`);
* ``"hf:MODEL_TYPE[:tiny|:key=value,...]"``, a path to a transformers ``config.json`` or to a
  directory holding one (a hub snapshot), built on the meta device with no weights
  (:mod:`~hnnframe.frontends.hf`, :mod:`~hnnframe.frontends.hf_export`);
* a path to an ONNX file, read without its weights (no external data is loaded, nothing in
  the file is executed) and with shapes inferred by ``onnx.shape_inference``
  (:mod:`~hnnframe.frontends.shapes`); shape constants whose data is absent leave their
  shapes unknown instead of failing;
* a path to a GGUF file: the transformers config its metadata describes, exported as a
  config is (:mod:`~hnnframe.frontends.gguf`);
* a path to a TorchScript file;
* a pickled whole-module checkpoint (``torch.save(model)``) only with ``trust_pickle=True``,
  because unpickling runs arbitrary code.

Each kind of path is one registered source kind (:mod:`hnnframe.sources`), which exports
its own structure with the pieces here; :func:`hnnframe.sources.to_onnx` dispatches to it
(it lives one layer up, so that this package never imports the registry that imports it).

Every returned model has inferred shapes and may have its weights stripped
(:func:`strip_weights`), so downstream stages only ever see structure.
"""

from __future__ import annotations

from typing import Any

from hnnframe.frontends.export import (
    DEFAULT_OPSET,
    export_module,
    prepare,
    strip_weights,
    trigger_input,
)
from hnnframe.frontends.named import build_module, example_input, export_source
from hnnframe.frontends.paths import load_onnx_file
from hnnframe.frontends.sources import source_label, split_source
from hnnframe.frontends.torchvision import INPUT_SIZES, torchvision_model
from hnnframe.log import get_logger

log = get_logger(__name__)

__all__ = [
    "DEFAULT_OPSET",
    "INPUT_SIZES",
    "ModelSource",
    "build_module",
    "example_input",
    "export_module",
    "export_source",
    "load_onnx_file",
    "model_name",
    "prepare",
    "split_source",
    "strip_weights",
    "torchvision_model",
    "trigger_input",
]

ModelSource = Any  # nn.Module | str | os.PathLike


def model_name(source: ModelSource) -> str:
    """A short human name for a model source."""
    try:
        import torch

        if isinstance(source, torch.nn.Module):
            return type(source).__name__
    except ImportError:  # pragma: no cover
        pass
    return source_label(source)
