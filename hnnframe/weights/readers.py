"""Read a model's weights one tensor at a time, as ``(name, float32 numpy array)`` pairs.

Three formats: ONNX (initializers and Constant nodes; external data files are read tensor by
tensor at their offsets, never as a whole), safetensors (its header, then each tensor with
``np.fromfile`` at its offset) and PyTorch state dicts
(``torch.load(weights_only=True, mmap=True)``: no code is run, and the file is memory-mapped).
Memory is of the order of the largest tensor, not of the model, except for an ONNX file that
holds its tensors inline (protobuf parses the whole file).

Repositories (issue 18): a snapshot directory is read shard by shard through these readers
(:mod:`hnnframe.repo` says which files, all inside the directory), a GGUF file tensor by
tensor by :mod:`hnnframe.weights.gguf_tensors`, and a PEFT adapter as its weights file.

Quantized ONNX weights come back dequantized: an int8/uint8 (or int32 bias) tensor that feeds
``DequantizeLinear``, ``QLinearConv``, ``QLinearMatMul``, ``MatMulInteger`` or ``ConvInteger``
is turned into ``(q - zero_point) * scale`` with its own scale and zero point (per tensor or
per axis), the scales and zero points themselves are not yielded. fp16 and bf16 tensors are
widened to float32. Integer tensors that are no quantized weight (shape constants, indices)
are skipped: they are no weights.

Every file is a stranger's (docs/index-guide.md, "Security"): each declared shape and offset is
checked against the bytes present and the limits in force before anything is allocated
(:class:`~hnnframe.weights.guard.ReadGuard`); a tensor whose bytes are missing is skipped and
recorded, and any decoder error, ``MemoryError``, ``OverflowError`` or ``RecursionError``
becomes one :class:`~hnnframe.errors.ModelLoadError` naming the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from hnnframe.errors import HnnError, ModelLoadError, one_line
from hnnframe.files import PathLike, not_regular
from hnnframe.formats import is_gguf, is_safetensors
from hnnframe.weights.guard import ReadGuard
from hnnframe.weights.onnx_reader import as_float, onnx_tensors

Tensor = tuple[str, np.ndarray]
FORMATS = ("onnx", "safetensors", "torch", "snapshot", "gguf", "adapter")
_TORCH_SUFFIXES = {".pt", ".pth", ".bin", ".ckpt", ".pkl"}


def detect_format(path: PathLike) -> str:
    """``"onnx"``, ``"safetensors"``, ``"torch"`` or ``"gguf"`` from the file's first bytes
    and suffix; ``"snapshot"`` for a directory with weights (:mod:`hnnframe.repo`),
    ``"adapter"`` for a PEFT adapter directory."""
    from hnnframe.repo import is_adapter, is_snapshot

    p = Path(path)
    if p.is_dir():
        if is_snapshot(p):
            return "snapshot"
        if is_adapter(p):
            return "adapter"
        raise ModelLoadError(f"{p}: a directory with no weights (no model.safetensors, "
                             "index json, pytorch_model.bin or adapter)")  # fmt: skip
    why = not_regular(p)
    if why:
        raise ModelLoadError(f"{p}: {why}")
    with open(p, "rb") as f:
        head = f.read(16)
    if is_gguf(p):
        return "gguf"
    if is_safetensors(p):  # 8-byte header length, then the JSON header
        return "safetensors"
    if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":  # zip archive or pickle
        return "torch"
    if p.suffix.lower() == ".safetensors":
        raise ModelLoadError(f"{p}: not a safetensors file (no JSON header)")
    if p.suffix.lower() in _TORCH_SUFFIXES:
        raise ModelLoadError(f"{p}: not a PyTorch file (neither zip nor pickle)")
    return "onnx"


def iter_tensors(
    path: PathLike, fmt: str | None = None, guard: ReadGuard | None = None
) -> Iterator[Tensor]:
    """Every floating-point weight of the model at ``path``, one at a time.

    Args:
        guard: Collects the tensors that could not be read (a fresh one when ``None``).

    Raises:
        ModelLoadError: the file is missing, of no known format, or corrupted.
        LimitError: a declared size, or the time spent, is over a limit.
    """
    fmt = fmt or detect_format(path)
    readers = {"onnx": onnx_tensors, "safetensors": _safetensors_tensors,
               "torch": _torch_tensors, "snapshot": _snapshot_tensors,
               "gguf": _gguf_tensors, "adapter": _adapter_tensors}  # fmt: skip
    if fmt not in readers:
        raise ModelLoadError(f"unknown weight format {fmt!r}; known: {', '.join(FORMATS)}")
    guard = guard if guard is not None else ReadGuard(path)
    try:
        yield from readers[fmt](Path(path), guard)
    except HnnError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure to decode a stranger's bytes
        # (MemoryError, OverflowError and RecursionError included) is this file's error.
        raise ModelLoadError(f"{path}: cannot read {fmt} weights ({one_line(e)})") from e


# ---- repositories: snapshot directories, GGUF files, PEFT adapters --------------------------


def _snapshot_tensors(path: Path, guard: ReadGuard) -> Iterator[Tensor]:
    """Every shard of a snapshot directory in turn (names as the shards store them), under
    one guard: the limits count the whole model, and a reader's error names the shard."""
    from hnnframe.repo import weight_files

    for f in weight_files(path):
        yield from iter_tensors(f, guard=guard)


def _gguf_tensors(path: Path, guard: ReadGuard) -> Iterator[Tensor]:
    from hnnframe.weights.gguf_tensors import gguf_tensors

    yield from gguf_tensors(path, guard)


def _adapter_tensors(path: Path, guard: ReadGuard) -> Iterator[Tensor]:
    """A PEFT adapter's own tensors (``lora_A``/``lora_B``), as its weights file stores them."""
    from hnnframe.repo import adapter_files

    files = adapter_files(path)
    assert files is not None  # detect_format said "adapter"
    yield from iter_tensors(files[1], guard=guard)


# ---- safetensors ---------------------------------------------------------------------------


_SAFETENSORS_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8",
                       "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}  # fmt: skip


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
    from hnnframe.limits import element_count

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


# ---- PyTorch state dicts ---------------------------------------------------------------------


def _torch_tensors(path: Path, guard: ReadGuard) -> Iterator[Tensor]:
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
            guard.tensor(name, int(t.numel()))
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
