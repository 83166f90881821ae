"""ONNX weights, one tensor at a time: initializers and ``Constant`` nodes, external data read
tensor by tensor at its offset (never a whole data file), quantized weights dequantized
(:mod:`hnnframe.weights.readers` documents the formats).

An external location is resolved first and must stay inside the model's folder
(:func:`hnnframe.files.inside`, as onnx's own loader requires); a tensor whose data is outside,
missing, or shorter than its declared shape is skipped and recorded by the
:class:`~hnnframe.sources.guard.ReadGuard`, never allocated from its declared dims.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from hnnframe import limits
from hnnframe.errors import LimitError, ModelLoadError
from hnnframe.files import inside, not_regular
from hnnframe.sources.guard import ReadGuard

Tensor = tuple[str, np.ndarray]


def as_float(a: np.ndarray) -> np.ndarray:
    """fp16, bf16 and float64 widened or narrowed to float32; other dtypes as they are."""
    if a.dtype == np.float32:
        return a
    if a.dtype.kind == "f" or a.dtype.name in ("bfloat16",):
        return a.astype(np.float32)
    return a


@dataclass
class _Quant:
    """How one quantized initializer is dequantized: names of its scale and zero point (or a
    scale computed as a product of two), and the axis a per-channel scale runs along."""

    scale: list[str]
    zero_point: str | None
    axis: int | None = None


def onnx_tensors(path: Path, guard: ReadGuard) -> Iterator[Tensor]:
    """Every floating-point weight of an ONNX file (dequantized where quantized)."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # protobuf's parse errors differ between versions
        first = (str(e).strip().splitlines() or [""])[0][:120]
        raise ModelLoadError(f"{path}: not an ONNX model ({type(e).__name__}: {first})") from e
    graph = model.graph
    if not graph.node and not graph.initializer:
        raise ModelLoadError(f"{path}: not an ONNX model (no graph)")
    limits.check("max_nodes", len(graph.node), path, "the graph's node count")
    inits = {t.name: t for t in graph.initializer}
    quant = _quantized_initializers(graph, inits)
    params = {n for q in quant.values() for n in [*q.scale, q.zero_point] if n}
    reader = _ArrayReader(path, guard)
    for t in graph.initializer:
        if t.name in params and t.name not in quant:
            continue
        if t.name not in quant and t.data_type not in _float_types():
            continue
        arr = reader.read(t, quant.get(t.name), inits)
        if arr is not None:
            yield t.name, as_float(arr)
    for node in graph.node:  # weights stored as Constant nodes (some exporters do this)
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value" and a.t.data_type in _float_types():
                    arr = reader.read(a.t, None, inits)
                    if arr is not None:
                        yield node.output[0], as_float(arr)


class _ArrayReader:
    """Reads tensors of one ONNX file; a tensor that cannot be read is recorded, not fatal
    (a limit still stops the model)."""

    def __init__(self, path: Path, guard: ReadGuard) -> None:
        self.path, self.guard, self.base = path, guard, path.parent
        self.small: dict[str, np.ndarray] = {}

    def read(self, t: Any, q: _Quant | None, inits: dict[str, Any]) -> np.ndarray | None:
        try:
            arr = self.array(t)
            if q is not None:
                arr = _dequantize(arr, q, lambda n: self.param(inits[n]))
            return arr
        except LimitError:
            raise
        except (ModelLoadError, ValueError, KeyError, OSError, TypeError) as e:
            self.guard.skip(t.name, str(e).removeprefix(f"{self.path}: "))
            return None

    def param(self, t: Any) -> np.ndarray:
        if t.name not in self.small:
            self.small[t.name] = self.array(t)
        return self.small[t.name]

    def array(self, t: Any) -> np.ndarray:
        count = limits.element_count(list(t.dims), self.path, t.name)
        if t.data_location == _external():
            return _external_array(t, self.path, count, self.guard)
        held = _inline_count(t)
        if held is not None and held != count:
            raise ModelLoadError(
                f"{self.path}: tensor {t.name!r} declares {count:,} elements and holds {held:,}"
            )
        self.guard.tensor(t.name, count)
        from onnx import numpy_helper

        return numpy_helper.to_array(t)


@cache  # onnx is imported on first use: `hnn index stats` loads this module, never onnx
def _float_types() -> set[int]:
    from onnx import TensorProto as T

    return {T.FLOAT, T.FLOAT16, T.DOUBLE, T.BFLOAT16}


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


def _external_array(t: Any, path: Path, count: int, guard: ReadGuard) -> np.ndarray:
    """One tensor's values from its external data file, read at its offset alone, after
    checking that the file is inside the model's folder, regular, and holds the bytes."""
    from onnx import TensorProto, numpy_helper

    info = {e.key: e.value for e in t.external_data}
    where = info.get("location", "")
    loc = inside(path.parent, where) if where else None
    if loc is None:
        raise ModelLoadError(
            f"{path}: external data location {where!r:.80} is outside the model's folder"
        )
    why = not_regular(loc)
    if why:
        raise ModelLoadError(f"{path}: external data file {where!r:.80}: {why}")
    offset = int(info.get("offset", 0))
    length = int(info["length"]) if "length" in info else None
    if offset < 0 or (length is not None and length < 0):
        raise ModelLoadError(f"{path}: tensor {t.name!r} has a negative offset or length")
    itemsize = 2 if t.data_type == TensorProto.BFLOAT16 else _itemsize(t.data_type)
    available = loc.stat().st_size - offset
    if length is not None:
        available = min(available, length)
    if itemsize and count * itemsize > available:
        raise ModelLoadError(
            f"{path}: external data file {where!r:.80} ends before tensor {t.name!r} does"
        )
    guard.tensor(t.name, count)
    shape = tuple(t.dims)
    if t.data_type == TensorProto.BFLOAT16:
        raw = np.fromfile(loc, dtype="<u2", count=count, offset=offset)
        return (raw.astype(np.uint32) << 16).view(np.float32).reshape(shape)
    if t.data_type in _numpy_types():
        dtype = np.dtype(_numpy_types()[t.data_type]).newbyteorder("<")
        return np.fromfile(loc, dtype=dtype, count=count, offset=offset).reshape(shape)
    # Packed or exotic types: onnx reads this one tensor, ``length`` bytes at its offset
    # (bounded by the file, which is inside the folder).
    from onnx.external_data_helper import load_external_data_for_tensor

    load_external_data_for_tensor(t, str(path.parent))
    arr = numpy_helper.to_array(t)
    t.ClearField("raw_data")
    return arr


def _inline_count(t: Any) -> int | None:
    """Elements an inline tensor holds, from its bytes (``None`` for a type not counted here,
    which onnx's own conversion checks)."""
    size = _itemsize(t.data_type)
    if t.raw_data:
        return len(t.raw_data) // size if size else None
    typed = (t.float_data, t.double_data, t.int32_data, t.int64_data, t.uint64_data)
    return max(len(f) for f in typed) if size else None


def _itemsize(data_type: int) -> int:
    return np.dtype(_numpy_types()[data_type]).itemsize if data_type in _numpy_types() else 0


@cache
def _numpy_types() -> dict[int, str]:
    from onnx import TensorProto as T

    return {
        T.FLOAT: "f4",
        T.FLOAT16: "f2",
        T.DOUBLE: "f8",
        T.INT8: "i1",
        T.UINT8: "u1",
        T.INT16: "i2",
        T.UINT16: "u2",
        T.INT32: "i4",
        T.INT64: "i8",
        T.BOOL: "?",
    }


@cache
def _external() -> int:
    from onnx import TensorProto

    return TensorProto.EXTERNAL
