"""The transform registry: :class:`Transform`, :data:`TRANSFORMS` and the variant errors.

Each transform is one way the same network reaches a platform (another exporter, a tool, a
wrapper). It is registered as a :class:`Transform` object, with its metadata, in
:data:`TRANSFORMS`, an :class:`hnnframe.registry.Registry` of kind ``transform`` that
``hnn list`` shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hnnframe.errors import HnnError, RegistryError
from hnnframe.registry import Registry


class VariantUnavailable(HnnError):
    """A transform does not apply to a model source (e.g. it needs the torch module)."""


class VariantError(HnnError):
    """A tool failed to produce a variant."""


@dataclass(frozen=True)
class Transform:
    """One way the same network reaches a platform.

    Attributes:
        name: registered name (lower snake case).
        fn: ``VariantSource -> onnx.ModelProto`` (weights may be present; they are stripped).
        listed: named in the robustness issue (False: a held-out generalisation check).
        needs_module: needs the torch module, so it does not apply to ONNX files.
        description: one line for tables.
        derived: a derived architecture (another head, one layer fewer, ...), not a copy:
            kept out of the robustness tables and out of protocol (c)'s copies, and scored
            by whether its source is nearest (:mod:`~hnnframe.variants.derived`).
    """

    name: str
    fn: Callable[[Any], Any]
    listed: bool
    needs_module: bool
    description: str
    derived: bool = False

    def __call__(self, src: Any) -> Any:
        """The tool's ONNX model of ``src`` (a :class:`~hnnframe.variants.VariantSource`)."""
        return self.fn(src)


TRANSFORMS: Registry[Any] = Registry("transform")
# Registration order (the robustness issue's list first, then the held-out ones, then the
# derived architectures): the order of the robustness tables. The registry itself lists its
# names sorted.
_ORDER: list[str] = []


def transform(
    name: str, *, listed: bool, needs_module: bool, description: str, derived: bool = False
) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Register a ``source -> ModelProto`` function in :data:`TRANSFORMS` as a
    :class:`Transform` under ``name``, with its metadata."""

    def deco(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        if name in TRANSFORMS:
            raise ValueError(f"transform {name!r} is already registered")
        t = Transform(name, fn, listed, needs_module, description, derived)
        TRANSFORMS.register(name, t)
        _ORDER.append(name)
        return fn

    return deco


def get_transform(name: str) -> Transform:
    """The registered transform ``name``; :class:`RegistryError` (naming the valid ones) if
    there is none."""
    t = TRANSFORMS.get(name)
    if not isinstance(t, Transform):
        raise RegistryError(f"{name!r} is not a transform (a {type(t).__name__})")
    return t


def _registered() -> list[str]:
    """Every name in registration order (others registered directly, last)."""
    return [*_ORDER, *(n for n in TRANSFORMS.names() if n not in _ORDER)]


def transform_names() -> list[str]:
    """Every transform's name: the listed copies, the held-out copies, then the derived
    architectures, each in registration order."""
    return [*listed_transforms(), *unlisted_transforms(), *derived_transforms()]


def listed_transforms() -> list[str]:
    """The robustness issue's transforms, in registration order."""
    return [n for n in _registered() if get_transform(n).listed and not get_transform(n).derived]


def unlisted_transforms() -> list[str]:
    """The held-out transforms (a check that the invariance is general), in order."""
    return [
        n for n in _registered() if not get_transform(n).listed and not get_transform(n).derived
    ]


def copy_transforms() -> list[str]:
    """The transforms that make copies (listed, then held out): the robustness suite's."""
    return [*listed_transforms(), *unlisted_transforms()]


def derived_transforms() -> list[str]:
    """The derived architectures (not copies: another head, one layer fewer, ...), in order."""
    return [n for n in _registered() if get_transform(n).derived]
