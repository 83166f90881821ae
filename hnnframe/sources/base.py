"""The model source registry: one class per kind of upload (issue 18, item 1).

A source kind says what it gives (``structure``, ``weights`` or both), sniffs its own files
(from their first bytes, a suffix, a directory's layout, or a ``SCHEME:`` prefix), exports its
structure (:meth:`Source.to_onnx`, which :func:`hnnframe.sources.to_onnx` dispatches to) and
yields its weights one tensor at a time as ``(name, float32 array)`` pairs
(:meth:`Source.tensors`, which :func:`hnnframe.sources.read.iter_tensors` dispatches to).
Kinds are tried in ``order`` (lower first): the more specific layout before the more general
one, so a PEFT adapter directory is an adapter, not a folder of safetensors.

The registry sits in Stage 1 beside the frontends (docs/layout.md): a kind's export uses
the frontends' modules and its reader the readers in this package, so neither the frontends
nor the weight tier needs an if-chain over the kinds, and no import goes up a layer.

A new format is one file: a subclass registered in :data:`SOURCES` (docs/writing-rules.md,
"A model source").
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from hnnframe.errors import ModelLoadError
from hnnframe.frontends.paths import onnx_or_refuse
from hnnframe.registry import Registry

if TYPE_CHECKING:
    from hnnframe.sources.guard import ReadGuard

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
    #: The weight format :meth:`tensors` reads (``hnnframe.weights.readers.detect_format``'s
    #: answer for this kind), or None when the weight tier reads none.
    weights_format: ClassVar[str | None] = None

    def sniff(self, spec: str) -> bool:
        """Whether ``spec`` (a path or a ``SCHEME:NAME``) is of this kind."""
        raise NotImplementedError

    def gives(self, spec: str) -> frozenset[str]:
        """What this upload gives (a weights file without a config gives no structure...)."""
        return self.GIVES

    def to_onnx(
        self, spec: str, example_input: Any, opset: int, dynamo: bool, trust_pickle: bool
    ) -> Any:
        """The structure as a weight-stripped, shape-inferred ONNX ModelProto.

        The default, for a file kind with no structure of its own (a weights file), is what
        a file of no known structure gets: read as ONNX when it looks like one, else refused.
        """
        return onnx_or_refuse(Path(spec))

    def tensors(self, spec: str, guard: ReadGuard) -> Iterator[tuple[str, Any]]:
        """Its weights, one tensor at a time, each counted by ``guard`` before it is read."""
        raise ModelLoadError(f"{spec}: a {SOURCES.name_of(self)} source carries no weights")


SOURCES: Registry[Source] = Registry("model source")


def kinds() -> list[Source]:
    """One instance of every registered kind, in sniffing order."""
    return sorted((SOURCES.get(n)() for n in SOURCES.names()), key=lambda k: k.order)


def sniff(spec: str | os.PathLike) -> Source | None:
    """The source kind of ``spec``: the first registered kind (by ``order``) that claims
    it, or None when no kind does (a missing file, an unknown format)."""
    s = os.fspath(spec)
    return next((k for k in kinds() if k.sniff(s)), None)


def kind_of(spec: str | os.PathLike) -> str | None:
    """The registered name of ``spec``'s source kind, or None."""
    k = sniff(spec)
    return SOURCES.name_of(k) if k is not None else None
