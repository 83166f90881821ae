"""The one set of file-format sniffers, from a file's first bytes and its suffix.

Used by the frontends (structure), the weight readers and the source registry
(:mod:`hnnframe.sources`), so that a format is recognised the same way everywhere. Nothing here
parses a file: a sniff reads at most a few bytes (or a zip archive's member names), and never
opens anything that is not a regular file (a FIFO would block forever).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from hnnframe.files import PathLike, not_regular

ZIP_MAGIC = b"PK\x03\x04"
GGUF_MAGIC = b"GGUF"


def head(path: PathLike, n: int = 16) -> bytes:
    """The first ``n`` bytes of a regular file, ``b""`` for anything else."""
    if not_regular(path):
        return b""
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError:
        return b""


def is_gguf(path: PathLike) -> bool:
    """A GGUF file (llama.cpp): it starts with ``GGUF``."""
    return head(path, 4) == GGUF_MAGIC


def is_safetensors(path: PathLike) -> bool:
    """A safetensors file: an 8-byte header length, then the JSON header's ``{``."""
    h = head(path, 9)
    return len(h) == 9 and h[8:9] == b"{"


def zip_names(path: PathLike) -> list[str] | None:
    """Member names of a zip archive, None for anything else (or a broken archive)."""
    if not_regular(path) or not zipfile.is_zipfile(path):
        return None
    try:
        with zipfile.ZipFile(path) as z:
            return z.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None


def zip_kind(path: PathLike) -> str | None:
    """``"torchscript"``, ``"pickle"`` (``torch.save``) or ``"zip"`` by the archive's member
    names; None for a file that is no zip archive."""
    names = zip_names(path)
    if names is None:
        return None
    if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
        return "torchscript"
    if any(n.endswith("/data.pkl") for n in names):
        return "pickle"
    return "zip"


def looks_like_onnx(path: PathLike) -> bool:
    """An ``.onnx`` suffix, or a protobuf that begins with a field-1 varint (ir_version)."""
    if Path(path).suffix.lower() == ".onnx":
        return True
    h = head(path, 2)
    return len(h) == 2 and h[0] == 0x08
