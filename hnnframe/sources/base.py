"""The model source registry: one class per kind of upload (issue 18, item 1).

A source kind says what it gives (``structure``, ``weights`` or both), sniffs its own files
(from their first bytes, a suffix, a directory's layout, or a ``SCHEME:`` prefix), gives the
structure as the spec the frontends export (:func:`hnnframe.frontends.to_onnx`), and yields
its weights one tensor at a time as ``(name, float32 array)`` pairs. Kinds are tried in
``order`` (lower first): the more specific layout before the more general one, so a PEFT
adapter directory is an adapter, not a folder of safetensors.

A new format is one file: a subclass registered in :data:`SOURCES` (docs/writing-rules.md,
"A model source").
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, ClassVar

from hnnframe.errors import ModelLoadError
from hnnframe.formats import head  # noqa: F401 - the sniffers' first bytes
from hnnframe.registry import Registry

STRUCTURE = "structure"
WEIGHTS = "weights"


class Source:
    """One kind of model source (see the module docstring)."""

    #: What the kind gives at most; :meth:`gives` says it of one upload.
    GIVES: ClassVar[frozenset[str]] = frozenset()
    #: Sniffing order: lower is tried first.
    order: ClassVar[int] = 50
    #: One line for ``hnn list``.
    describe: ClassVar[str] = ""

    def sniff(self, spec: str) -> bool:
        """Whether ``spec`` (a path or a ``SCHEME:NAME``) is of this kind."""
        raise NotImplementedError

    def gives(self, spec: str) -> frozenset[str]:
        """What this upload gives (a weights file without a config gives no structure...)."""
        return self.GIVES

    def structure(self, spec: str) -> Any:
        """The structure: a spec or model that :func:`hnnframe.frontends.to_onnx` exports."""
        if STRUCTURE not in self.gives(spec):
            raise ModelLoadError(f"{spec}: a {SOURCES.name_of(self)} source has no structure")
        return spec

    def tensors(self, spec: str) -> Iterator[tuple[str, Any]]:
        """Its weights, one tensor at a time."""
        from hnnframe.weights.readers import iter_tensors

        if WEIGHTS not in self.gives(spec):
            raise ModelLoadError(f"{spec}: a {SOURCES.name_of(self)} source carries no weights")
        yield from iter_tensors(spec)


SOURCES: Registry[Source] = Registry("model source")


def sniff(spec: str | os.PathLike) -> Source | None:
    """The source kind of ``spec``: the first registered kind (by ``order``) that claims
    it, or None when no kind does (a missing file, an unknown format)."""
    s = os.fspath(spec)
    kinds = sorted((SOURCES.get(n)() for n in SOURCES.names()), key=lambda k: k.order)
    return next((k for k in kinds if k.sniff(s)), None)


def kind_of(spec: str | os.PathLike) -> str | None:
    """The registered name of ``spec``'s source kind, or None."""
    k = sniff(spec)
    return SOURCES.name_of(k) if k is not None else None
