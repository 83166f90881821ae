"""hnnframe.recipe: YAML recipes, _base_ inheritance and key=value overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from hnnframe.errors import ConfigError
from hnnframe.recipe import RECIPE_DIR, load_recipe


def recipes() -> list[Path]:
    return sorted(RECIPE_DIR.glob("*.yaml"))


def test_every_recipe_starts_with_its_command() -> None:
    assert len(recipes()) >= 5
    for p in recipes():
        first = p.read_text().splitlines()[0]
        assert first.startswith("# hnn "), p


def test_overrides_change_the_recipe() -> None:
    cfg = load_recipe("hnn_net", ["hash.bits=64", "loss.beta=0", "graph.merge=[conv_bn]"])
    assert (
        cfg["hash"]["bits"] == 64
        and cfg["loss"]["beta"] == 0
        and cfg["graph"]["merge"] == ["conv_bn"]
    )
    with pytest.raises(ConfigError):
        load_recipe("hnn_net", ["novalue"])


def test_yaml_boolean_key_is_a_clear_error() -> None:
    from hnnframe.losses import LOSSES

    with pytest.raises(ConfigError, match="non-string key True"):
        LOSSES.build({"type": "topo", True: "code"})
