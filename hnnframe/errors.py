"""The one error hierarchy of hnnframe.

Library code raises a specific :class:`HnnError` subclass for anything a user can cause (a bad
file, an unknown registry name, a wrong Q). The CLI turns these into one line on stderr and a
non-zero exit; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os


class HnnError(Exception):
    """Base class of every error a user can cause."""


class ModelLoadError(HnnError):
    """A model file is missing, unreadable, corrupted, or of an unknown format."""


class LimitError(ModelLoadError):
    """An upload declares more than a limit allows (:mod:`hnnframe.limits`): a tensor, a
    parameter count, a graph, a config or a time over its bound."""


class ExportError(HnnError):
    """A model could not be exported to ONNX."""


class GraphError(HnnError):
    """A graph is empty or malformed."""


class RegistryError(HnnError, KeyError):
    """An unknown name was looked up in a registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ConfigError(HnnError):
    """A recipe, override or search space is malformed."""


class CheckpointError(HnnError):
    """A checkpoint is corrupted or does not fit the recipe, Q or vocabulary."""


class IndexStoreError(HnnError):
    """A hash index is corrupted, of another checkpoint, or unreachable."""


class TuneError(HnnError):
    """A study cannot be created, loaded, continued or reported."""


class StorageError(TuneError):
    """A study storage URL is malformed, unreachable or of an incompatible schema."""


def one_line(e: BaseException) -> str:
    """An exception as one short line: its type and the first line of its message (for
    errors that come from decoding a stranger's bytes, where the message may be anything)."""
    text = str(e).strip()
    first = text.splitlines()[0][:160] if text else ""
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


#: What a reader raises on hostile input besides its own errors: memory and recursion blown by
#: a declared size or nesting, integers too large for C.
RESOURCE_ERRORS = (MemoryError, RecursionError, OverflowError)


def upload_error(source: str, e: BaseException) -> str:
    """One upload's error as its one line: an HnnError's message, anything else (a decoder
    broken by a stranger's bytes) with its type; ``HNN_DEBUG=1`` lets a non-HnnError through
    with its traceback instead."""
    if isinstance(e, HnnError):
        return str(e)
    if os.environ.get("HNN_DEBUG"):
        raise e
    text = f"cannot be read ({one_line(e)})" if not isinstance(e, OSError) else e.strerror or str(e)
    return f"{source}: {text}"
