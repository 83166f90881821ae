"""Model source specs: the one place that tells a named model from a file path.

A named source is ``SCHEME:NAME``: ``torchvision:resnet50`` builds a torchvision architecture
with ``weights=None``. Anything else is a path (an ONNX file, a TorchScript file, ...).
"""

from __future__ import annotations

import os
from typing import Any

#: Schemes of named sources; each builds a torch module from a name.
SCHEMES: tuple[str, ...] = ("torchvision",)


def split_source(spec: Any) -> tuple[str, str] | None:
    """``(scheme, name)`` of a named source such as ``"torchvision:resnet50"``, else None."""
    if not isinstance(spec, (str, os.PathLike)):
        return None
    s = os.fspath(spec)
    scheme, sep, name = s.partition(":")
    if sep and scheme in SCHEMES and name:
        return scheme, name
    return None


def is_named(spec: Any) -> bool:
    """Whether ``spec`` names a model (``SCHEME:NAME``) rather than a file."""
    return split_source(spec) is not None


def named(scheme: str, name: str) -> str:
    """The spec string of a named source."""
    return f"{scheme}:{name}"
