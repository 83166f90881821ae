"""Name -> class registries, one per pluggable kind (after fvcore's ``Registry``).

A spec is either ``"name"`` or ``{"type": "name", **kwargs}``. A name with a dot,
``"my_pkg.rules.MyRule"``, is imported directly (as torchtune's ``_component_``), so user code
can be used from a recipe without registering it. Each registry is defined next to its base
class (``MERGE_RULES`` in :mod:`hnnframe.merge`, ...); this module knows none of them, and
``hnn list`` (:mod:`hnnframe.commands.list`) is where they are gathered.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from hnnframe.errors import ConfigError, RegistryError
from hnnframe.plugins import load_entry_points

T = TypeVar("T")


class Registry(Generic[T]):
    """A named table of classes (or factories) of one kind.

    Example:
        >>> MERGE_RULES = Registry("merge rule")
        >>> @MERGE_RULES.register("conv_relu")
        ... class ConvRelu: ...
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, Callable[..., T]] = {}

    def register(self, name: str, obj: Callable[..., T] | None = None) -> Any:
        """Register ``obj`` under ``name``; used bare or as a decorator."""
        if name != name.lower() or not name:
            raise ValueError(f"{self.kind} names are lower snake case, got {name!r}")

        def deco(o: Callable[..., T]) -> Callable[..., T]:
            if name in self._items and self._items[name] is not o:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = o
            return o

        return deco(obj) if obj is not None else deco

    def unregister(self, name: str) -> None:
        """Withdraw ``name`` (a test's own component, once the test is done)."""
        self._items.pop(name, None)

    def get(self, name: str) -> Callable[..., T]:
        """Look ``name`` up, importing dotted names; raise :class:`RegistryError` if absent.

        A name that is neither registered nor dotted may come from an installed plugin: the
        ``hnnframe.plugins`` entry points are loaded (once per process) before giving up.
        """
        if name in self._items:
            return self._items[name]
        if "." not in name:
            if load_entry_points() and name in self._items:
                return self._items[name]
        if "." in name:
            module, _, attr = name.rpartition(".")
            try:
                return getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as e:
                raise RegistryError(f"cannot import {self.kind} {name!r}: {e}") from None
        valid = ", ".join(sorted(self._items)) or "(none)"
        raise RegistryError(f"unknown {self.kind} {name!r}; valid: {valid}")

    def build(self, spec: str | Mapping[str, Any], **defaults: Any) -> T:
        """Instantiate from ``"name"`` or ``{"type": name, **kwargs}``; kwargs beat defaults."""
        if isinstance(spec, str):
            name, kwargs = spec, {}
        elif isinstance(spec, Mapping) and "type" in spec:
            kwargs = {k: v for k, v in spec.items() if k != "type"}
            name = spec["type"]
        else:
            raise ConfigError(
                f"a {self.kind} spec is a name or a mapping with 'type', got {spec!r}"
            )
        bad = [k for k in kwargs if not isinstance(k, str)]
        if bad:
            raise ConfigError(
                f"{self.kind} {name!r} has a non-string key {bad[0]!r} "
                "(YAML reads on/off/yes/no as booleans: quote the key)"
            )
        cls = self.get(name)
        try:
            return cls(**{**defaults, **kwargs})
        except TypeError as e:
            raise ConfigError(f"bad arguments for {self.kind} {name!r}: {e}") from None

    def name_of(self, obj: Any) -> str:
        """The name that :meth:`get` resolves back to ``obj`` (a class or an instance's class):
        its registered name, or its dotted path when it is not registered."""
        cls = obj if isinstance(obj, type) else type(obj)
        for name, item in self._items.items():
            if item is cls:
                return name
        return f"{cls.__module__}.{cls.__qualname__}"

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
