"""hnnframe.plugins: a recipe's imports and the entry-point group (end to end in
tests/test_extensions.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hnnframe.errors import ConfigError
from hnnframe.plugins import import_modules
from hnnframe.recipe import load_recipe


def test_import_modules_from_a_search_directory(tmp_path: Path) -> None:
    (tmp_path / "hnn_probe_plugin.py").write_text("LOADED = True\n")
    import_modules(["hnn_probe_plugin"], search=[tmp_path])
    assert sys.modules["hnn_probe_plugin"].LOADED
    assert str(tmp_path) not in sys.path  # the search path is not left behind


@pytest.mark.parametrize("bad", [[""], [3], ["no_such_plugin_module_xyz"]])
def test_bad_imports_are_config_errors(bad: list[object]) -> None:
    with pytest.raises(ConfigError, match="imports:"):
        import_modules(bad)  # type: ignore[arg-type]


def test_a_recipe_imports_its_plugins_from_its_directory(tmp_path: Path) -> None:
    (tmp_path / "hnn_recipe_plugin.py").write_text("VALUE = 7\n")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("# hnn train r.yaml\nimports: [hnn_recipe_plugin]\nhash: {bits: 16}\n")
    cfg = load_recipe(recipe)
    assert cfg["imports"] == ["hnn_recipe_plugin"] and sys.modules["hnn_recipe_plugin"].VALUE == 7
