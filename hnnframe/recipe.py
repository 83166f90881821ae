"""YAML recipes: one file describes a whole experiment (after torchtune's recipe configs).

A recipe is a nested mapping. Component sections are ``{type: name, **kwargs}``. Command-line
overrides are ``dotted.key=value`` with the value parsed as YAML (``hash.bits=64``,
``loss.beta=0``, ``graph.merge=[conv_bn,conv_relu]``). ``_base_: other.yaml`` inherits from
another recipe in the same directory, with this file's keys winning. ``imports: [module, ...]``
names plugin modules that register components (:mod:`hnnframe.plugins`); they are imported
when the recipe is loaded and again when a checkpoint trained from it is loaded.

``graph: {preset: robust}`` names a graph preset (:mod:`hnnframe.presets`). The loaded recipe
holds the preset's passes and merge rules as explicit lists, resolved after the overrides
(:func:`hnnframe.presets.resolve_graph`): ``graph.preset=invariant`` picks another preset,
``graph.merge=[...]`` replaces the preset's merge rules.

The bundled recipes are package data (``hnnframe/recipes/*.yaml``, setup.py's
``package_data``), so bare names resolve in a wheel install too. The repository root keeps a
``recipes`` link to that folder, and ``recipes/<name>.yaml`` resolves to the bundled file when
no such file exists under the working directory, so the commands in docs/ run from anywhere.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from hnnframe.errors import ConfigError
from hnnframe.plugins import import_modules
from hnnframe.presets import resolve_graph

# Package data beside this module: importlib.resources is where setuptools installs it, and in
# a plain (unzipped) install, the one hnnframe supports, that is a real folder.
RECIPE_DIR = Path(str(resources.files("hnnframe").joinpath("recipes")))


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict) and "type" not in v:
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def resolve_path(path: str | Path) -> Path:
    """A recipe path as given, or a bare name (or ``recipes/<name>``) in the package's recipes."""
    p = Path(path)
    if p.exists():
        return p
    # "recipes/hnn_net.yaml", as docs/ and the recipes' own first lines write it, names the
    # bundled file when the working directory is not the repository root.
    if not p.is_absolute() and len(p.parts) == 2 and p.parts[0] == "recipes":
        p = Path(p.parts[1])
    for cand in (RECIPE_DIR / p, RECIPE_DIR / f"{p}.yaml"):
        if cand.exists():
            return cand
    raise ConfigError(f"{path}: no such recipe")


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML ({str(e).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe is a mapping, got {type(data).__name__}")
    base = data.pop("_base_", None)
    if base:
        data = _merge(load_yaml(resolve_path(path.parent / base)), data)
    return data


def set_dotted(cfg: dict[str, Any], key: str, value: Any, create: bool = True) -> None:
    """Set ``cfg[a][b][c] = value`` for ``key = "a.b.c"``."""
    parts = key.split(".")
    node: Any = cfg
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node = node[int(part)]
            continue
        if part not in node:
            if not create:
                raise ConfigError(f"unknown recipe key {'.'.join(parts[: i + 1])!r}")
            node[part] = {}
        node = node[part]
        if not isinstance(node, (dict, list)):
            raise ConfigError(f"recipe key {'.'.join(parts[: i + 1])!r} is not a section")
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def get_dotted(cfg: Mapping[str, Any], key: str) -> Any:
    node: Any = cfg
    for part in key.split("."):
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            raise ConfigError(f"unknown recipe key {key!r}")
    return node


def apply_overrides(cfg: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    cfg = copy.deepcopy(cfg)
    for ov in overrides:
        if "=" not in ov:
            raise ConfigError(f"override {ov!r} is not key=value")
        key, raw = ov.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        set_dotted(cfg, key.strip(), value)
    return cfg


def load_recipe(
    path: str | Path, overrides: Iterable[str] = (), zoo_cache: str | Path | None = None
) -> dict[str, Any]:
    """Load a recipe YAML, apply ``key=value`` overrides, and record where it came from.

    ``zoo_cache`` (a command's ``--zoo-cache``), when given, becomes ``data.cache_dir``.
    """
    p = resolve_path(path)
    cfg = apply_overrides(load_yaml(p), overrides)
    cfg.setdefault("name", p.stem)
    # Plugins first, so that the recipe's component names resolve (they travel inside the
    # checkpoint and are imported again when it is loaded).
    import_modules(cfg.get("imports") or [], search=[p.parent.resolve()])
    # After the plugins, which may register presets, and after the overrides, which may name
    # another preset or replace its lists.
    if "graph" in cfg:
        cfg["graph"] = resolve_graph(cfg["graph"])
    if zoo_cache:
        cfg.setdefault("data", {})["cache_dir"] = zoo_cache
    return cfg


def dump_recipe(cfg: Mapping[str, Any], path: str | Path | None = None, command: str = "") -> str:
    """YAML text of a recipe, its first line a comment with the command that runs it."""
    text = yaml.safe_dump(dict(cfg), sort_keys=False)
    if command:
        text = f"# {command}\n{text}"
    if path is not None:
        Path(path).write_text(text)
    return text
