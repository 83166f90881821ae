"""Named sources (``SCHEME:NAME``) and Hugging Face configs: their module, trigger and export.

* :func:`build_module`: the torch module of a named source, with untrained weights
  (materialised: for a large ``hf:`` config use :func:`export_source`, which never builds them);
* :func:`example_input`: its trigger (a tensor, or a tuple of tensors for ``hf:`` models);
* :func:`export_source`: its weight-stripped ONNX with inferred shapes. torchvision and timm
  models go through the TorchScript exporter with BatchNormalization kept; transformers models
  are exported from the meta device (:mod:`hnnframe.frontends.hf_export`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hnnframe.errors import ModelLoadError
from hnnframe.frontends.export import DEFAULT_OPSET, export_module, prepare, trigger_input
from hnnframe.frontends.hf import (
    build_model,
    config_from_file,
    config_from_name,
    traced_module,
    trigger,
)
from hnnframe.frontends.hf_export import export_config
from hnnframe.frontends.sources import config_json, source_label, split_source
from hnnframe.frontends.timm import timm_model, timm_trigger
from hnnframe.frontends.torchvision import torchvision_model


def hf_config(spec: Any) -> Any:
    """The transformers config of ``hf:NAME`` or of a config.json path, else None."""
    parts = split_source(spec)
    if parts is not None:
        return config_from_name(parts[1]) if parts[0] == "hf" else None
    path = config_json(spec)
    return config_from_file(Path(path)) if path is not None else None


def build_module(spec: str) -> Any:
    """The eval-mode torch module of a named source or config, with untrained weights.

    ``hf:`` sources give a module of positional tensors (see
    :func:`hnnframe.frontends.hf.traced_module`) that :func:`example_input` feeds.
    """
    parts = split_source(spec)
    if parts is not None and parts[0] == "torchvision":
        return torchvision_model(parts[1])
    if parts is not None and parts[0] == "timm":
        return timm_model(parts[1])
    config = hf_config(spec)
    if config is None:
        raise ModelLoadError(f"{spec}: not a named model source (SCHEME:NAME) or a config.json")
    model = build_model(config)
    names, _ = trigger(model, config)
    return traced_module(model, names)


def example_input(spec: str, module: Any = None) -> Any:
    """The trigger of a named source or config: the zero image (C x H x W of the model) or,
    for transformers, the tuple of zero inputs of its modality."""
    parts = split_source(spec)
    if parts is not None and parts[0] == "torchvision":
        return trigger_input(parts[1])
    if parts is not None and parts[0] == "timm":
        return timm_trigger(module if module is not None else timm_model(parts[1]))
    config = hf_config(spec)
    if config is None:
        raise ModelLoadError(f"{spec}: not a named model source (SCHEME:NAME) or a config.json")
    model = module.model if module is not None else build_model(config, device="meta")
    return trigger(model, config)[1]


def export_source(
    spec: str, example: Any = None, opset: int = DEFAULT_OPSET, dynamo: bool = False
) -> Any:
    """Weight-stripped, shape-inferred ONNX of a named source or config.

    ``example``, ``opset`` and ``dynamo`` apply to torchvision and timm models; transformers
    models always use their modality's trigger and the meta-device export.
    """
    name = source_label(spec)
    parts = split_source(spec)
    if parts is not None and parts[0] in ("torchvision", "timm"):
        module = build_module(spec)
        x = example if example is not None else example_input(spec, module)
        return export_module(module, x, name, opset, dynamo)
    config = hf_config(spec)
    if config is None:
        raise ModelLoadError(f"{spec}: not a named model source (SCHEME:NAME) or a config.json")
    return prepare(export_config(config, name))
