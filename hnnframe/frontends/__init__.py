"""Frontends: f_onnx of the paper (section 3.2.1), any model to an ONNX ModelProto.

Accepted sources:

* a ``torch.nn.Module`` (with an example input; default the paper's trigger, a zero tensor);
* ``"torchvision:NAME"``, built with ``weights=None`` because structure, FLOPs and parameter
  counts do not depend on weight values;
* a path to an ONNX file, read without its weights (no external data is loaded, nothing in
  the file is executed) and with shapes inferred by ``onnx.shape_inference``;
* a path to a TorchScript file;
* a pickled whole-module checkpoint (``torch.save(model)``) only with ``trust_pickle=True``,
  because unpickling runs arbitrary code.

Every returned model has inferred shapes and may have its weights stripped
(:func:`strip_weights`), so downstream stages only ever see structure.
"""

from __future__ import annotations

import io
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

from hnnframe.errors import ExportError, ModelLoadError
from hnnframe.frontends.sources import split_source
from hnnframe.log import get_logger

log = get_logger(__name__)

DEFAULT_OPSET = 17
# Models whose canonical input is not 3x224x224.
INPUT_SIZES: dict[str, tuple[int, int, int]] = {"inception_v3": (3, 299, 299)}
# Auxiliary classifiers are not traced in eval mode; building the models without them keeps
# model.parameters() equal to the exported parameters.
_TV_KWARGS: dict[str, dict[str, Any]] = {
    "inception_v3": {"aux_logits": False, "init_weights": False},
    "googlenet": {"aux_logits": False, "init_weights": False},
}

ModelSource = Any  # nn.Module | str | os.PathLike


def trigger_input(name: str = "", shape: tuple[int, ...] | None = None) -> Any:
    """The paper's trigger: a zero tensor of batch size 1 (section 4.1.1)."""
    import torch

    if shape is None:
        shape = (1, *INPUT_SIZES.get(name, (3, 224, 224)))
    return torch.zeros(*shape)


def torchvision_model(name: str) -> Any:
    """Instantiate ``torchvision.models.NAME`` with ``weights=None``."""
    import torchvision

    fn = getattr(torchvision.models, name, None)
    if fn is None or not callable(fn) or name.startswith("_") or name[0].isupper():
        raise ModelLoadError(f"unknown torchvision model {name!r}")
    try:
        return fn(weights=None, **_TV_KWARGS.get(name, {}))
    except TypeError as e:
        raise ModelLoadError(f"torchvision:{name} is not a model builder ({e})") from None


def build_module(spec: str) -> Any:
    """The torch module of a named source (``torchvision:NAME``), with untrained weights."""
    named = split_source(spec)
    if named is None:
        raise ModelLoadError(f"{spec}: not a named model source (SCHEME:NAME)")
    scheme, name = named
    if scheme == "torchvision":
        return torchvision_model(name)
    raise ModelLoadError(f"{spec}: unknown model source scheme {scheme!r}")  # pragma: no cover


def export_module(
    module: Any,
    example_input: Any = None,
    name: str = "",
    opset: int = DEFAULT_OPSET,
    dynamo: bool = False,
) -> Any:
    """Export an nn.Module (or ScriptModule) to ONNX with BatchNormalization nodes kept.

    The TorchScript exporter is the default: it is ~4x faster than the dynamo exporter here
    and, with ``training=PRESERVE`` and no constant folding, keeps BatchNormalization nodes
    that the paper's merge rules need (the dynamo exporter folds them into Conv).
    """
    import onnx
    import torch

    module = module.eval()
    x = trigger_input(name) if example_input is None else example_input
    args = x if isinstance(x, tuple) else (x,)
    buf = io.BytesIO()
    try:
        # The exporters warn about tracing details (TracerWarning, deprecations) that say
        # nothing about the graph we need; keep the CLI output to our own lines.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if dynamo:
                prog = torch.onnx.export(module, args, dynamo=True, opset_version=max(opset, 18))
                proto = prog.model_proto
            else:
                torch.onnx.export(
                    module,
                    args,
                    buf,
                    dynamo=False,
                    opset_version=opset,
                    training=torch.onnx.TrainingMode.PRESERVE,
                    do_constant_folding=False,
                    input_names=["input"],
                    output_names=["output"],
                )
                proto = onnx.load_from_string(buf.getvalue())
    except Exception as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExportError(f"cannot export {name or type(module).__name__} to ONNX: {msg}") from e
    proto.graph.name = name or proto.graph.name
    return prepare(strip_weights(proto))


def strip_weights(model: Any) -> Any:
    """Drop initializer values but keep their dims, so structure and parameter counts survive.

    Each stripped tensor is marked as external data in a file that does not exist; readers
    in hnnframe never load external data, so the result reads like any ONNX file whose
    weights were left behind.
    """
    import onnx

    for t in model.graph.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL and not t.raw_data:
            continue
        n = 1
        for d in t.dims:
            n *= d
        # Small integer tensors (shapes, axes) are structure, not weights: keep them. So are
        # scalars (a quantizer's scale and zero point say which range it clips to).
        if n <= 1 or (t.data_type in (onnx.TensorProto.INT64, onnx.TensorProto.INT32) and n <= 64):
            continue
        for f in ("raw_data", "float_data", "int32_data", "int64_data", "double_data"):
            t.ClearField(f)
        t.data_location = onnx.TensorProto.EXTERNAL
        del t.external_data[:]
        entry = t.external_data.add()
        entry.key, entry.value = "location", "weights.stripped"
    return model


def prepare(model: Any) -> Any:
    """Infer shapes (without loading weights); raise ModelLoadError on an invalid graph."""
    from hnnframe.frontends.shapes import infer_shapes

    try:
        return infer_shapes(model)
    except Exception as e:
        raise ModelLoadError(f"ONNX shape inference failed: {str(e).splitlines()[0]}") from None


def _is_zip(path: Path) -> bool:
    return zipfile.is_zipfile(path)


def _zip_kind(path: Path) -> str:
    """'torchscript', 'pickle' (torch.save) or 'zip' by the archive's member names."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
        return "torchscript"
    if any(n.endswith("/data.pkl") for n in names):
        return "pickle"
    return "zip"


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
    if not model.opset_import:
        raise ModelLoadError(f"{path}: not an ONNX model (no opset)")
    if not model.graph.name:
        model.graph.name = path.stem
    return prepare(model)


def _looks_like_onnx(path: Path) -> bool:
    """A cheap sniff: ONNX files are protobufs that begin with a field-1 varint (ir_version)."""
    with open(path, "rb") as f:
        head = f.read(2)
    return len(head) == 2 and head[0] == 0x08


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
    named = split_source(s)
    if named is not None:
        return export_module(build_module(s), example_input, named[1], opset, dynamo)
    path = Path(s)
    if not path.exists():
        raise ModelLoadError(f"{path}: no such file")
    if path.is_dir():
        raise ModelLoadError(f"{path}: is a directory, not a model file")
    if path.stat().st_size == 0:
        raise ModelLoadError(f"{path}: empty file")
    if _is_zip(path):
        kind = _zip_kind(path)
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
    if path.suffix.lower() == ".onnx" or _looks_like_onnx(path):
        return load_onnx_file(path)
    raise ModelLoadError(f"{path}: neither an ONNX model nor a TorchScript file")


def model_name(source: ModelSource) -> str:
    """A short human name for a model source."""
    try:
        import torch

        if isinstance(source, torch.nn.Module):
            return type(source).__name__
    except ImportError:  # pragma: no cover
        pass
    named = split_source(source)
    if named is not None:
        return named[1]
    return Path(str(source)).stem
