"""The one entry point from any model source to a shape-inferred ONNX ModelProto (f_onnx,
section 3.2.1): a path or name goes to the exporter of its registered source kind."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hnnframe.errors import ModelLoadError
from hnnframe.files import not_regular
from hnnframe.frontends.export import DEFAULT_OPSET, export_module, prepare
from hnnframe.frontends.paths import unclaimed
from hnnframe.frontends.sources import config_json, is_named
from hnnframe.sources.base import sniff

ModelSource = Any  # nn.Module | str | os.PathLike


def to_onnx(
    source: ModelSource,
    example_input: Any = None,
    *,
    trust_pickle: bool = False,
    opset: int = DEFAULT_OPSET,
    dynamo: bool = False,
) -> Any:
    """Turn any supported model source into a shape-inferred ONNX ModelProto (f_onnx).

    A path or name goes to the exporter of its source kind (:data:`hnnframe.sources.SOURCES`,
    the first kind that sniffs it); no file is opened before it is known to be a regular,
    non-empty file (a FIFO would block forever).
    """
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
    path = Path(s)
    if not is_named(s) and config_json(s) is None and not path.is_dir():
        why = not_regular(path)  # before anything opens it
        if why:
            raise ModelLoadError(f"{path}: {why}")
        if path.stat().st_size == 0:
            raise ModelLoadError(f"{path}: empty file")
    kind = sniff(s)
    if kind is None:
        return unclaimed(s, example_input, opset, dynamo)
    return kind.to_onnx(s, example_input, opset, dynamo, trust_pickle)
