"""hnnframe.recipe: YAML recipes, _base_ inheritance and key=value overrides."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from hnnframe.errors import ConfigError
from hnnframe.recipe import RECIPE_DIR, load_recipe, resolve_path


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


def bundled_names() -> list[str]:
    """The recipe names the installed package carries, read through importlib.resources."""
    folder = resources.files("hnnframe").joinpath("recipes")
    return sorted(f.name[: -len(".yaml")] for f in folder.iterdir() if f.name.endswith(".yaml"))


def test_every_bare_name_loads_from_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An empty working directory: no repository recipes/ folder to fall back on.
    monkeypatch.chdir(tmp_path)
    names = bundled_names()
    assert {"hnn_net", "hnn_hub", "search_default"} <= set(names)
    package = Path(str(resources.files("hnnframe"))).resolve()
    for name in names:
        cfg = load_recipe(name)
        assert cfg["name"] == name and "model" in cfg, name
        assert resolve_path(name).resolve().parent.parent == package, name
        # The form docs/ use, from any working directory.
        assert resolve_path(f"recipes/{name}.yaml") == resolve_path(name)
    with pytest.raises(ConfigError, match="no such recipe"):
        resolve_path("recipes/no_such_recipe.yaml")


def test_setup_py_ships_the_recipes(tmp_path: Path) -> None:
    """setup.py's build copies every bundled recipe, and a bare name loads from that copy alone."""
    root = Path(__file__).resolve().parent.parent
    lib = tmp_path / "lib"
    subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(lib)],
        cwd=root,
        check=True,
        capture_output=True,
    )
    assert sorted(p.stem for p in (lib / "hnnframe" / "recipes").glob("*.yaml")) == bundled_names()
    probe = (
        "import hnnframe.recipe as r; "
        "print(r.resolve_path('hnn_net').resolve()); print(r.load_recipe('hnn_hub')['name'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(lib)},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert out == [str((lib / "hnnframe" / "recipes" / "hnn_net.yaml").resolve()), "hnn_hub"]
