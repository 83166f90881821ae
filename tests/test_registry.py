"""hnnframe.registry: names, specs, dotted paths, name_of and the plugin fallback."""

from __future__ import annotations

import pytest

from hnnframe.errors import ConfigError, RegistryError
from hnnframe.registry import Registry


class Thing:
    def __init__(self, size: int = 1) -> None:
        self.size = size


def test_register_get_build_and_errors() -> None:
    reg: Registry[Thing] = Registry("thing")
    reg.register("thing", Thing)
    assert reg.get("thing") is Thing and "thing" in reg and len(reg) == 1
    assert reg.build("thing").size == 1
    assert reg.build({"type": "thing", "size": 3}).size == 3
    assert reg.build({"type": "thing"}, size=2).size == 2
    with pytest.raises(RegistryError, match="unknown thing 'nope'; valid: thing"):
        reg.get("nope")
    with pytest.raises(ConfigError, match="bad arguments for thing"):
        reg.build({"type": "thing", "colour": "red"})
    with pytest.raises(ConfigError, match="a name or a mapping with 'type'"):
        reg.build(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lower snake case"):
        reg.register("Thing", Thing)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("thing", dict)


def test_dotted_names_and_name_of_round_trip() -> None:
    reg: Registry[Thing] = Registry("thing")
    dotted = f"{__name__}.Thing"
    assert reg.get(dotted) is Thing
    assert reg.name_of(Thing) == dotted and reg.name_of(Thing()) == dotted
    reg.register("thing", Thing)
    assert reg.name_of(Thing()) == "thing"
    with pytest.raises(RegistryError, match="cannot import thing"):
        reg.get("no_such_module.Thing")
