"""A safetensors file: weights only (its header, then each tensor at its offset); the
structure comes from ``--structure`` or the config.json beside it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from hnnframe.errors import ModelLoadError
from hnnframe.formats import is_safetensors
from hnnframe.limits import element_count
from hnnframe.sources.base import SOURCES, WEIGHTS, Source
from hnnframe.sources.guard import ReadGuard
from hnnframe.sources.onnx_reader import as_float

Tensor = tuple[str, np.ndarray]


@SOURCES.register("safetensors")
class Safetensors(Source):
    GIVES = frozenset({WEIGHTS})
    order = 30
    describe = "a safetensors file (weights; structure from --structure or config.json)"
    weights_format = "safetensors"

    def sniff(self, spec: str) -> bool:
        return is_safetensors(spec)

    def tensors(self, spec: str, guard: ReadGuard) -> Iterator[tuple[str, Any]]:
        yield from _safetensors_tensors(Path(spec), guard)


_SAFETENSORS_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "BF16": "<u2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
}


def _safetensors_tensors(path: Path, guard: ReadGuard) -> Iterator[Tensor]:
    """The format is an 8-byte header length, a JSON header (dtype, shape, byte offsets per
    tensor) and the raw little-endian bytes. Each tensor is read at its offset with
    ``np.fromfile``: ``safe_open`` would map the whole file, and every page it touches
    counts as the process's resident memory. Every entry is checked before any is read:
    offsets are non-negative, ordered, within the data and exactly the shape's bytes."""
    size = path.stat().st_size
    header, start_of_data = _safetensors_header(path, size)
    entries = []
    for name, meta in header.items():
        entry = _safetensors_entry(path, name, meta)
        if entry is not None:
            entries.append(entry)
    for name, dtype, shape, count, (start, end) in sorted(entries, key=lambda e: e[4][0]):
        if start_of_data + end > size:
            guard.skip(name, "its bytes are past the end of the file")
            continue
        guard.tensor(name, count)
        np_dtype = np.dtype(_SAFETENSORS_DTYPES[dtype])
        arr = np.fromfile(path, dtype=np_dtype, count=count, offset=start_of_data + start)
        if dtype == "BF16":  # widened in place: one float32-sized array, not two
            wide = arr.astype(np.uint32)
            wide <<= 16
            arr = wide.view(np.float32)
        yield name, as_float(arr.reshape(shape))


#: safetensors' own limit on its JSON header.
SAFETENSORS_HEADER_MAX = 100_000_000


def _safetensors_header(path: Path, size: int) -> tuple[dict[str, Any], int]:
    import json

    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        if n <= 0 or 8 + n > size or n > SAFETENSORS_HEADER_MAX:
            raise ModelLoadError(f"{path}: not a safetensors file (header length {n})")
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise ModelLoadError(f"{path}: not a safetensors file (bad JSON header)") from e
    if not isinstance(header, dict):
        raise ModelLoadError(f"{path}: not a safetensors file (the header is no JSON object)")
    header.pop("__metadata__", None)
    return header, 8 + n


def _safetensors_entry(path: Path, name: str, meta: Any) -> tuple | None:
    """``(name, dtype, shape, count, offsets)`` of a float tensor's header entry, ``None``
    for another dtype (integers, float8: no weights this tier reads).

    Raises:
        ModelLoadError: the entry is malformed, or its offsets do not hold its shape.
    """
    if not isinstance(meta, dict):
        raise ModelLoadError(f"{path}: tensor {name!r} has no header entry")
    offsets = meta.get("data_offsets")
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)
        and offsets[0] <= offsets[1]
    ):
        raise ModelLoadError(f"{path}: tensor {name!r} has bad data offsets {offsets!r:.60}")
    shape = meta.get("shape")
    count = element_count(shape, path, name)
    dtype = meta.get("dtype")
    if dtype not in _SAFETENSORS_DTYPES:
        return None
    np_dtype = np.dtype(_SAFETENSORS_DTYPES[dtype])
    if offsets[1] - offsets[0] != count * np_dtype.itemsize:
        raise ModelLoadError(f"{path}: tensor {name!r} does not fit its header")
    if np_dtype.kind != "f" and dtype != "BF16":
        return None
    return name, dtype, list(shape), count, tuple(offsets)
