"""Read a model's weights one tensor at a time, as ``(name, float32 numpy array)`` pairs.

Three formats: ONNX (initializers and Constant nodes; external data files are read tensor by
tensor at their offsets, never as a whole), safetensors (its header, then each tensor with
``np.fromfile`` at its offset) and PyTorch state dicts
(``torch.load(weights_only=True, mmap=True)``: no code is run, and the file is memory-mapped).
Memory is of the order of the largest tensor, not of the model, except for an ONNX file that
holds its tensors inline (protobuf parses the whole file).

Quantized ONNX weights come back dequantized: an int8/uint8 (or int32 bias) tensor that feeds
``DequantizeLinear``, ``QLinearConv``, ``QLinearMatMul``, ``MatMulInteger`` or ``ConvInteger``
is turned into ``(q - zero_point) * scale`` with its own scale and zero point (per tensor or
per axis), the scales and zero points themselves are not yielded. fp16 and bf16 tensors are
widened to float32. Integer tensors that are no quantized weight (shape constants, indices)
are skipped: they are no weights.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hnnframe.errors import ModelLoadError
from hnnframe.files import PathLike

Tensor = tuple[str, np.ndarray]
FORMATS = ("onnx", "safetensors", "torch")
_TORCH_SUFFIXES = {".pt", ".pth", ".bin", ".ckpt", ".pkl"}


def detect_format(path: PathLike) -> str:
    """``"onnx"``, ``"safetensors"`` or ``"torch"`` from the file's first bytes and suffix."""
    p = Path(path)
    if not p.is_file():
        raise ModelLoadError(f"{p}: no such file")
    with open(p, "rb") as f:
        head = f.read(16)
    if len(head) >= 9 and head[8:9] == b"{":  # 8-byte header length, then the JSON header
        return "safetensors"
    if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":  # zip archive or pickle
        return "torch"
    if p.suffix.lower() == ".safetensors":
        raise ModelLoadError(f"{p}: not a safetensors file (no JSON header)")
    if p.suffix.lower() in _TORCH_SUFFIXES:
        raise ModelLoadError(f"{p}: not a PyTorch file (neither zip nor pickle)")
    return "onnx"


def iter_tensors(path: PathLike, fmt: str | None = None) -> Iterator[Tensor]:
    """Every floating-point weight of the model at ``path``, one at a time.

    Raises:
        ModelLoadError: the file is missing, of no known format, or corrupted.
    """
    fmt = fmt or detect_format(path)
    readers = {"onnx": _onnx_tensors, "safetensors": _safetensors_tensors, "torch": _torch_tensors}
    if fmt not in readers:
        raise ModelLoadError(f"unknown weight format {fmt!r}; known: {', '.join(FORMATS)}")
    try:
        yield from readers[fmt](Path(path))
    except ModelLoadError:
        raise
    except (OSError, ValueError, RuntimeError, KeyError, EOFError, TypeError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelLoadError(f"{path}: cannot read {fmt} weights ({msg})") from e


def _as_float(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.float32:
        return a
    if a.dtype.kind == "f" or a.dtype.name in ("bfloat16",):
        return a.astype(np.float32)
    return a


# ---- safetensors ---------------------------------------------------------------------------


_SAFETENSORS_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8",
                       "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}  # fmt: skip


def _safetensors_tensors(path: Path) -> Iterator[Tensor]:
    """The format is an 8-byte header length, a JSON header (dtype, shape, byte offsets per
    tensor) and the raw little-endian bytes. Each tensor is read at its offset with
    ``np.fromfile``: ``safe_open`` would map the whole file, and every page it touches
    counts as the process's resident memory."""
    import json

    size = path.stat().st_size
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        if n <= 0 or 8 + n > size:
            raise ModelLoadError(f"{path}: not a safetensors file (header length {n})")
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ModelLoadError(f"{path}: not a safetensors file (bad JSON header)") from e
    header.pop("__metadata__", None)
    for name, meta in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        dtype = meta.get("dtype")
        if dtype not in _SAFETENSORS_DTYPES:
            continue  # float8 and other exotic types: no weights this tier reads
        start, end = meta["data_offsets"]
        np_dtype = np.dtype(_SAFETENSORS_DTYPES[dtype])
        count = int(np.prod(meta["shape"], dtype=np.int64))
        if end - start != count * np_dtype.itemsize or 8 + n + end > size:
            raise ModelLoadError(f"{path}: tensor {name} does not fit its header")
        arr = np.fromfile(path, dtype=np_dtype, count=count, offset=8 + n + start)
        if dtype == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        elif np_dtype.kind != "f":
            continue
        yield name, _as_float(arr.reshape(meta["shape"]))


# ---- PyTorch state dicts ---------------------------------------------------------------------


def _torch_tensors(path: Path) -> Iterator[Tensor]:
    import pickle

    import torch

    try:
        try:
            obj = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as e:  # legacy (non-zip) files cannot be memory-mapped
            if "mmap" not in str(e):
                raise
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0]
        raise ModelLoadError(f"{path}: not a weights_only state dict ({first})") from e
    if isinstance(obj, torch.Tensor):
        obj = {"tensor": obj}
    if not isinstance(obj, dict):
        raise ModelLoadError(f"{path}: holds a {type(obj).__name__}, not a state dict")
    found = False
    for name, t in _flatten(obj):
        found = True
        if t.is_floating_point():
            yield name, t.detach().to(torch.float32).numpy()
    if not found:
        raise ModelLoadError(f"{path}: no tensors in this state dict")


# Training checkpoints keep the model's weights under one of these keys...
MODEL_KEYS = ("state_dict", "model_state_dict", "model", "module", "net")
# ...beside state that is not the model's: an optimizer's moments have the weights' shapes and
# would pull the code of the same weights saved with and without them apart.
TRAINING_STATE_KEYS = frozenset({"optimizer", "optimizer_state_dict", "optim", "scheduler",
                                 "lr_scheduler", "scaler", "ema", "model_ema"})  # fmt: skip


def _flatten(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """The model's tensors of a (possibly nested) state dict: under a model key when the
    checkpoint has one, never an optimizer's or scheduler's state."""
    import torch

    if not prefix:
        for key in MODEL_KEYS:
            if isinstance(obj.get(key), dict):
                yield from _flatten(obj[key], key + ".")
                return
    for k, v in obj.items():
        name = f"{prefix}{k}"
        if isinstance(v, torch.Tensor):
            yield name, v
        elif isinstance(v, dict) and str(k) not in TRAINING_STATE_KEYS:
            yield from _flatten(v, name + ".")


# ---- ONNX ---------------------------------------------------------------------------------


@dataclass
class _Quant:
    """How one quantized initializer is dequantized: names of its scale and zero point (or a
    scale computed as a product of two), and the axis a per-channel scale runs along."""

    scale: list[str]
    zero_point: str | None
    axis: int | None = None


def _onnx_tensors(path: Path) -> Iterator[Tensor]:
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # protobuf's parse errors differ between versions
        first = (str(e).strip().splitlines() or [""])[0][:120]
        raise ModelLoadError(f"{path}: not an ONNX model ({type(e).__name__}: {first})") from e
    graph = model.graph
    if not graph.node and not graph.initializer:
        raise ModelLoadError(f"{path}: not an ONNX model (no graph)")
    inits = {t.name: t for t in graph.initializer}
    quant = _quantized_initializers(graph, inits)
    params = {n for q in quant.values() for n in [*q.scale, q.zero_point] if n}
    base = path.parent
    small: dict[str, np.ndarray] = {}

    def load(name: str) -> np.ndarray:
        if name not in small:
            small[name] = _onnx_array(inits[name], base)
        return small[name]

    for t in graph.initializer:
        if t.name in params and t.name not in quant:
            continue
        if t.name in quant:
            q = quant[t.name]
            arr = _dequantize(_onnx_array(t, base), q, load)
        else:
            if t.data_type not in _FLOAT_TYPES:
                continue
            arr = _onnx_array(t, base)
        yield t.name, _as_float(arr)
    for node in graph.node:  # weights stored as Constant nodes (some exporters do this)
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value" and a.t.data_type in _FLOAT_TYPES:
                    yield node.output[0], _as_float(_onnx_array(a.t, base))


def _float_types() -> set[int]:
    from onnx import TensorProto as T

    return {T.FLOAT, T.FLOAT16, T.DOUBLE, T.BFLOAT16}


_FLOAT_TYPES = _float_types()


def _quantized_initializers(graph: Any, inits: dict[str, Any]) -> dict[str, _Quant]:
    """Map each quantized weight initializer to its dequantization parameters."""
    from onnx import helper

    producers = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list[Any]] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    def attr(node: Any, name: str, default: Any) -> Any:
        for a in node.attribute:
            if a.name == name:
                return helper.get_attribute_value(a)
        return default

    def opt(node: Any, i: int) -> str | None:
        return node.input[i] if len(node.input) > i and node.input[i] else None

    out: dict[str, _Quant] = {}
    for n in graph.node:
        op = n.op_type
        if op == "DequantizeLinear" and n.input[0] in inits:
            out[n.input[0]] = _Quant([n.input[1]], opt(n, 2), attr(n, "axis", 1))
        elif op == "QLinearConv":
            if n.input[3] in inits:
                out[n.input[3]] = _Quant([n.input[4]], n.input[5], 0)
            if opt(n, 8) and n.input[8] in inits:  # int32 bias, scale x_scale * w_scale
                out[n.input[8]] = _Quant([n.input[1], n.input[4]], None, 0)
        elif op == "QLinearMatMul":
            for w, s, z in ((0, 1, 2), (3, 4, 5)):
                if n.input[w] in inits:
                    out[n.input[w]] = _Quant([n.input[s]], n.input[z], -1 if w == 3 else 0)
        elif op in ("MatMulInteger", "ConvInteger"):
            w_scale = _integer_op_scale(n, inits, producers, consumers)
            for w, z in ((1, 3), (0, 2)):
                if n.input[w] in inits:
                    axis = -1 if op == "MatMulInteger" and w == 1 else 0
                    out[n.input[w]] = _Quant(w_scale if w == 1 else [], opt(n, z), axis)
    return out


def _integer_op_scale(node: Any, inits: dict, producers: dict, consumers: dict) -> list[str]:
    """The weight scale of a ``MatMulInteger``/``ConvInteger``: onnxruntime's dynamic
    quantizer multiplies the integer output (after a Cast) by ``x_scale * w_scale``, so the
    scale is the initializer among the inputs of the Mul that feeds that Mul."""
    frontier = [node.output[0]]
    for _ in range(3):  # MatMulInteger -> Cast -> Mul
        nxt = []
        for name in frontier:
            for c in consumers.get(name, []):
                if c.op_type == "Mul":
                    for other in c.input:
                        if other == name:
                            continue
                        if other in inits:
                            return [other]
                        prod = producers.get(other)
                        if prod is not None and prod.op_type == "Mul":
                            return [i for i in prod.input if i in inits]
                nxt.extend(c.output)
        frontier = nxt
    return []


def _dequantize(q: np.ndarray, spec: _Quant, load: Any) -> np.ndarray:
    x = q.astype(np.float32)
    if spec.zero_point:
        x = x - _along(load(spec.zero_point).astype(np.float32), spec.axis, x.ndim)
    for s in spec.scale:
        x = x * _along(load(s).astype(np.float32), spec.axis, x.ndim)
    return x


def _along(v: np.ndarray, axis: int | None, ndim: int) -> np.ndarray:
    """A per-tensor (scalar) or per-axis (1-D) parameter shaped to broadcast over ``axis``."""
    if v.size == 1 or ndim == 0 or v.ndim != 1 or axis is None:
        return v.reshape(()) if v.size == 1 else v
    shape = [1] * ndim
    shape[axis % ndim] = v.size
    return v.reshape(shape)


def _onnx_array(t: Any, base: Path) -> np.ndarray:
    """One tensor's values; an external one is read from its file at its offset alone."""
    from onnx import TensorProto, numpy_helper

    if t.data_location != TensorProto.EXTERNAL:
        return numpy_helper.to_array(t)
    info = {e.key: e.value for e in t.external_data}
    loc = (base / info["location"]).resolve()
    # As onnx's own loader: an upload names files beside it, never a path elsewhere on the
    # server (an absolute path or ../ would read any file).
    if not loc.is_relative_to(base.resolve()):
        raise ModelLoadError(f"{t.name}: external data location {info['location']!r} is "
                             "outside the model's folder")  # fmt: skip
    if not loc.is_file():
        raise ModelLoadError(f"{t.name}: external data file {loc} is missing")
    offset, length = int(info.get("offset", 0)), info.get("length")
    shape = tuple(t.dims)
    count = int(np.prod(shape)) if shape else 1
    if t.data_type == TensorProto.BFLOAT16:
        raw = np.fromfile(loc, dtype="<u2", count=count, offset=offset)
        arr = (raw.astype(np.uint32) << 16).view(np.float32)
    elif t.data_type in _NUMPY_TYPES:
        dtype = np.dtype(_NUMPY_TYPES[t.data_type]).newbyteorder("<")
        if length is not None and int(length) < count * dtype.itemsize:
            raise ModelLoadError(f"{t.name}: external data shorter than its shape")
        arr = np.fromfile(loc, dtype=dtype, count=count, offset=offset)
    else:  # packed or exotic types: let onnx read this one tensor
        from onnx.external_data_helper import load_external_data_for_tensor

        load_external_data_for_tensor(t, str(base))
        arr = numpy_helper.to_array(t)
        t.ClearField("raw_data")
        return arr
    if arr.size != count:
        raise ModelLoadError(f"{t.name}: external data file {loc} ends before the tensor does")
    return arr.reshape(shape)


def _numpy_types() -> dict[int, str]:
    from onnx import TensorProto as T

    return {T.FLOAT: "f4", T.FLOAT16: "f2", T.DOUBLE: "f8", T.INT8: "i1", T.UINT8: "u1",
            T.INT16: "i2", T.UINT16: "u2", T.INT32: "i4", T.INT64: "i8", T.BOOL: "?"}  # fmt: skip


_NUMPY_TYPES = _numpy_types()
