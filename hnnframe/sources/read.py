"""Read a model's weights one tensor at a time, through the source kind that reads them.

:func:`detect_format` names the weight format of a path (the ``weights_format`` of the first
source kind that sniffs it); :func:`iter_tensors` asks the kind of that format for its
tensors (:meth:`hnnframe.sources.base.Source.tensors`), under one
:class:`~hnnframe.sources.guard.ReadGuard`, and turns any failure to decode a stranger's bytes
into one :class:`~hnnframe.errors.ModelLoadError` naming the file. A new weight format is a
registered kind with a ``weights_format`` and ``tensors``; nothing here changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from hnnframe.errors import HnnError, ModelLoadError, one_line
from hnnframe.files import PathLike, not_regular
from hnnframe.formats import ZIP_MAGIC, head
from hnnframe.sources.base import Source, kinds, sniff
from hnnframe.sources.guard import ReadGuard

Tensor = tuple[str, np.ndarray]
_TORCH_SUFFIXES = {".pt", ".pth", ".bin", ".ckpt", ".pkl"}


def formats() -> list[str]:
    """The weight formats of the registered kinds, in sniffing order."""
    return list(dict.fromkeys(k.weights_format for k in kinds() if k.weights_format))


def _reader(fmt: str) -> Source | None:
    return next((k for k in kinds() if k.weights_format == fmt), None)


def detect_format(path: PathLike) -> str:
    """The weight format of ``path`` (``"onnx"``, ``"safetensors"``, ``"torch"``, ``"gguf"``,
    ``"snapshot"``, ``"adapter"``, or a plugin kind's), from the kind that sniffs it.

    A file no weight-reading kind claims is named by the reader whose error fits it best:
    a zip archive or pickle is ``"torch"``, anything else ``"onnx"``.

    Raises:
        ModelLoadError: a directory with no weights, no regular file, or a file whose suffix
            promises a format its bytes are not.
    """
    p = Path(path)
    if p.is_dir():
        kind = sniff(p)
        if kind is not None and kind.weights_format:
            return kind.weights_format
        raise ModelLoadError(
            f"{p}: a directory with no weights (no model.safetensors, "
            "index json, pytorch_model.bin or adapter)"
        )
    why = not_regular(p)  # before anything opens it: a FIFO would block forever
    if why:
        raise ModelLoadError(f"{p}: {why}")
    kind = sniff(p)
    if kind is not None and kind.weights_format:
        return kind.weights_format
    first = head(p, 4)
    if first == ZIP_MAGIC or first[:1] == b"\x80":  # a TorchScript or broken archive
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
    kind = _reader(fmt)
    if kind is None:
        raise ModelLoadError(f"unknown weight format {fmt!r}; known: {', '.join(formats())}")
    guard = guard if guard is not None else ReadGuard(path)
    try:
        yield from kind.tensors(str(path), guard)
    except HnnError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure to decode a stranger's bytes
        # (MemoryError, OverflowError and RecursionError included) is this file's error.
        raise ModelLoadError(f"{path}: cannot read {fmt} weights ({one_line(e)})") from e
