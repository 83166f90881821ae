"""What a path exports to when its source kind has no exporter of its own, and the errors
that name why a path is no model.

The source kinds (:mod:`hnnframe.sources`) share these: an ONNX file is read here
(:func:`load_onnx_file`), a weights file or a file no kind claims is tried as ONNX and else
refused (:func:`onnx_or_refuse`), and a directory exports its ``config.json`` or is refused
(:func:`directory_to_onnx`). :func:`unclaimed` is what :func:`hnnframe.sources.to_onnx`
does with a path no registered kind claims.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hnnframe import limits
from hnnframe.errors import ModelLoadError
from hnnframe.formats import looks_like_onnx
from hnnframe.frontends.export import prepare
from hnnframe.frontends.named import export_source
from hnnframe.frontends.sources import config_json


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


def onnx_or_refuse(path: Path) -> Any:
    """A regular, non-empty file of no structural kind: ONNX when it looks like one."""
    if looks_like_onnx(path):
        return load_onnx_file(path)
    raise ModelLoadError(f"{path}: neither an ONNX model, a GGUF file nor a TorchScript file")


def directory_to_onnx(spec: str, example_input: Any, opset: int, dynamo: bool) -> Any:
    """A directory's structure: its ``config.json``, or none (refused)."""
    if config_json(spec) is not None:
        return export_source(spec, example_input, opset, dynamo)
    raise ModelLoadError(f"{Path(spec)}: is a directory with no config.json, not a model file")


def unclaimed(spec: str, example_input: Any, opset: int, dynamo: bool) -> Any:
    """A path no source kind claims: a ``.json`` file is read as a config (which names why
    it is none, as for ``model.safetensors.index.json``), a directory or a file refused.
    The caller has already refused a path that is no regular file or is empty."""
    path = Path(spec)
    if config_json(spec) is not None or path.is_dir():
        return directory_to_onnx(spec, example_input, opset, dynamo)
    return onnx_or_refuse(path)
