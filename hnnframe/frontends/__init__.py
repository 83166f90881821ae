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

Every returned model has inferred shapes and may have its weights stripped
(:func:`strip_weights`), so downstream stages only ever see structure.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hnnframe import limits
from hnnframe.errors import ModelLoadError
from hnnframe.files import not_regular
from hnnframe.formats import is_gguf, looks_like_onnx, zip_kind
from hnnframe.frontends.export import (
    DEFAULT_OPSET,
    export_module,
    prepare,
    strip_weights,
    trigger_input,
)
from hnnframe.frontends.named import build_module, example_input, export_source
from hnnframe.frontends.sources import config_json, is_named, source_label, split_source
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
    "to_onnx",
    "torchvision_model",
    "trigger_input",
]

ModelSource = Any  # nn.Module | str | os.PathLike


def load_onnx_file(path: Path) -> Any:
    """Read an ONNX file's structure: no external data, nothing executed, shapes inferred."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, RuntimeError, ValueError, UnicodeDecodeError) as e:
        raise ModelLoadError(f"{path}: not a readable ONNX model ({type(e).__name__})") from None
    except Exception as e:  # protobuf raises a variety of errors on truncated input
        raise ModelLoadError(f"{path}: corrupted ONNX model ({type(e).__name__}: {e})") from None
    if not model.HasField("graph") or len(model.graph.node) == 0:
        raise ModelLoadError(f"{path}: not an ONNX model (no graph nodes)")
    limits.check("max_nodes", len(model.graph.node), path, "the graph's node count")
    if not model.opset_import:
        raise ModelLoadError(f"{path}: not an ONNX model (no opset)")
    if not model.graph.name:
        model.graph.name = path.stem
    return prepare(model)


def to_onnx(
    source: ModelSource,
    example_input: Any = None,
    *,
    trust_pickle: bool = False,
    opset: int = DEFAULT_OPSET,
    dynamo: bool = False,
) -> Any:
    """Turn any supported model source into a shape-inferred ONNX ModelProto (f_onnx)."""
    import onnx

    if isinstance(source, onnx.ModelProto):
        return prepare(source)
    try:
        import torch

        if isinstance(source, torch.nn.Module):
            return export_module(source, example_input, type(source).__name__, opset, dynamo)
    except ImportError:  # pragma: no cover
        pass
    if not isinstance(source, (str, os.PathLike)):
        raise ModelLoadError(f"cannot read a model from a {type(source).__name__}")
    s = str(source)
    if is_named(s) or config_json(s) is not None:
        return export_source(s, example_input, opset, dynamo)
    path = Path(s)
    if path.is_dir():
        raise ModelLoadError(f"{path}: is a directory with no config.json, not a model file")
    why = not_regular(path)  # before anything opens it: a FIFO would block forever
    if why:
        raise ModelLoadError(f"{path}: {why}")
    if path.stat().st_size == 0:
        raise ModelLoadError(f"{path}: empty file")
    kind = zip_kind(path)
    if kind is not None:
        if kind == "torchscript":
            try:
                module = torch.jit.load(str(path), map_location="cpu")
            except Exception as e:
                raise ModelLoadError(f"{path}: unreadable TorchScript file ({e})") from None
            return export_module(module, example_input, path.stem, opset, dynamo=False)
        if kind == "pickle":
            if not trust_pickle:
                raise ModelLoadError(
                    f"{path}: a pickled torch checkpoint; loading it runs code from the file. "
                    "Pass --trust-pickle (trust_pickle=True) only if you trust its source"
                )
            obj = torch.load(str(path), map_location="cpu", weights_only=False)
            if not isinstance(obj, torch.nn.Module):
                raise ModelLoadError(
                    f"{path}: holds a {type(obj).__name__}, not an nn.Module "
                    "(a state dict has no architecture)"
                )
            return export_module(obj, example_input, path.stem, opset, dynamo)
        raise ModelLoadError(f"{path}: a zip archive that is neither TorchScript nor torch.save")
    if is_gguf(path):
        from hnnframe.frontends.gguf import config_from_gguf
        from hnnframe.frontends.hf_export import export_config

        return prepare(export_config(config_from_gguf(path), path.stem))
    if looks_like_onnx(path):
        return load_onnx_file(path)
    raise ModelLoadError(f"{path}: neither an ONNX model, a GGUF file nor a TorchScript file")


def model_name(source: ModelSource) -> str:
    """A short human name for a model source."""
    try:
        import torch

        if isinstance(source, torch.nn.Module):
            return type(source).__name__
    except ImportError:  # pragma: no cover
        pass
    return source_label(source)
