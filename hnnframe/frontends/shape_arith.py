"""A numpy evaluator of the small constant arithmetic inside a graph: shape sub-computations
(``Shape -> Gather -> Div -> Slice``) and computed pads (TensorFlow-style "same" padding,
Swin's window padding), for :func:`hnnframe.frontends.shapes.infer_shapes`.

Only shape-sized values are evaluated (64 elements at most); nothing reads a weight.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from hnnframe.frontends.tensors import tensor_value


def _ints(a: Any) -> list[int]:
    return [int(v) for v in np.asarray(a).reshape(-1)]


def _slice(x: np.ndarray, starts: Any, ends: Any, axes: Any = None, steps: Any = None) -> Any:
    starts, ends = _ints(starts), _ints(ends)
    axes = _ints(axes) if axes is not None else list(range(len(starts)))
    steps = _ints(steps) if steps is not None else [1] * len(starts)
    idx = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps, strict=False):
        idx[a] = slice(s, e, st)
    return x[tuple(idx)]


def _unsqueeze(x: np.ndarray, axes: Any) -> np.ndarray:
    out = x
    for a in sorted(_ints(axes)):
        out = np.expand_dims(out, a if a >= 0 else a + out.ndim + 1)
    return out


def _int_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer):
        return (np.trunc(a / b)).astype(a.dtype)
    return a / b


def _cast(x: np.ndarray, to: int | None) -> np.ndarray:
    """ONNX Cast of a small constant to the element type ``to``."""
    from onnx import helper

    return x.astype(helper.tensor_dtype_to_np_dtype(to)) if to else x


def _evaluators(attrs: dict[str, Any]) -> dict[str, Callable[..., Any]]:
    return {
        "Identity": lambda x: x,
        "Gather": lambda x, i: np.take(x, i, axis=attrs.get("axis", 0)),
        "Unsqueeze": lambda x, axes=None: _unsqueeze(
            x, attrs.get("axes") if axes is None else axes
        ),
        "Squeeze": lambda x, axes=None: np.squeeze(
            x, axis=tuple(_ints(attrs.get("axes") if axes is None else axes)) or None
        ),
        "Concat": lambda *xs: np.concatenate(
            [np.atleast_1d(x) for x in xs], axis=attrs.get("axis", 0)
        ),
        "Add": lambda a, b: a + b,
        "Sub": lambda a, b: a - b,
        "Mul": lambda a, b: a * b,
        "Div": _int_div,
        "Slice": _slice,
        "Cast": lambda x: _cast(x, attrs.get("to")),
        # TensorFlow-style "same" padding (timm's ``pad_same``) computes its pads with float
        # arithmetic on constants: ceil(size / stride), then a clamp at 0.
        "Ceil": np.ceil,
        "Floor": np.floor,
        "Neg": np.negative,
        "Max": lambda *xs: np.maximum.reduce(xs),
        "Min": lambda *xs: np.minimum.reduce(xs),
        "Clip": lambda x, lo=None, hi=None: np.clip(x, lo, hi),
        "Transpose": lambda x: np.transpose(x, attrs.get("perm")),
        # Window padding (Swin's ``(w - H % w) % w``) and its conditions.
        "Mod": lambda a, b: np.fmod(a, b) if attrs.get("fmod") else np.mod(a, b),
        "Abs": np.abs,
        "Greater": np.greater,
        "Less": np.less,
        "GreaterOrEqual": np.greater_equal,
        "LessOrEqual": np.less_equal,
        "And": np.logical_and,
        "Or": np.logical_or,
        "Not": np.logical_not,
        "Reshape": lambda x, s: x.reshape(_ints(s)),
        "Range": lambda s, e, d: np.arange(int(s), int(e), int(d), dtype=np.int64),
        "Equal": lambda a, b: a == b,
        "Where": lambda c, a, b: np.where(c, a, b),
        "ConstantOfShape": lambda s: np.full(
            _ints(s), attrs.get("value_scalar", 0), dtype=np.int64
        ),
    }


def evaluate(
    node: Any, known: dict[str, np.ndarray], shapes: dict[str, list[int | None]]
) -> np.ndarray | None:
    from onnx import helper

    attrs: dict[str, Any] = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if a.name == "value" and hasattr(v, "dims"):
            value = tensor_value(v)
            if value is None:  # a constant the file does not hold: its output stays unknown
                return None
            if value.size:
                attrs["value_scalar"] = value.reshape(-1)[0]
            attrs["value"] = value
        else:
            attrs[a.name] = v
    op = node.op_type
    if op == "Constant":
        if "value" in attrs:
            return attrs["value"]
        for key in ("value_ints", "value_int"):  # opset >= 12 spellings of integer constants
            if key in attrs:
                return np.array(attrs[key], dtype=np.int64)
        return None
    if op in ("Shape", "Size") and node.input[0] in known:  # the shape of a folded constant
        shape = known[node.input[0]].shape
        if op == "Size":
            return np.array(int(np.prod(shape)), dtype=np.int64)
        return np.array(shape[attrs.get("start", 0) : attrs.get("end", None)], dtype=np.int64)
    if op == "Shape":
        shp = shapes.get(node.input[0])
        if shp is None or any(d is None for d in shp):
            return None
        start, end = attrs.get("start", 0), attrs.get("end", None)
        return np.array(shp[start:end], dtype=np.int64)
    if op == "Size":
        shp = shapes.get(node.input[0])
        if shp is None or any(d is None for d in shp):
            return None
        return np.array(int(np.prod(shp)), dtype=np.int64)
    fn = _evaluators(attrs).get(op)
    if fn is None:
        return None
    args = []
    for name in node.input:
        if name == "":
            args.append(None)
        elif name in known:
            args.append(known[name])
        else:
            return None
    while args and args[-1] is None:
        args.pop()
    try:
        out = fn(*args)
    except Exception:
        return None
    arr = np.asarray(out)
    # Only shape-sized data is worth folding (small floats included: computed pads pass
    # through them); anything large is real data.
    if arr.size > 64 or not (
        np.issubdtype(arr.dtype, np.integer)
        or arr.dtype == bool
        or np.issubdtype(arr.dtype, np.floating)
    ):
        return None
    return arr
