"""Plugins: modules that register components (merge rules, encoders, backbones, ...).

Two ways bring a plugin into a process that did not import it itself:

* a recipe's ``imports:`` list of module names, imported when the recipe is loaded and again
  when a checkpoint trained from it is loaded (the recipe travels inside the checkpoint);
* the entry-point group ``hnnframe.plugins`` of any installed distribution, loaded the first
  time a registry is asked for a name it does not hold::

      # pyproject.toml of a plugin package
      [project.entry-points."hnnframe.plugins"]
      my_rules = "my_pkg.rules"

Module names are searched on ``sys.path`` and then in the current directory, so a plugin file
next to the recipe works from the directory the command runs in.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable

from hnnframe.errors import ConfigError
from hnnframe.log import get_logger

log = get_logger(__name__)

ENTRY_POINT_GROUP = "hnnframe.plugins"
_loaded_entry_points = False


def import_modules(names: Iterable[str], search: Iterable[str | os.PathLike[str]] = ()) -> None:
    """Import each plugin module (a recipe's ``imports``); ConfigError if one fails.

    Modules are looked up on ``sys.path``, then in ``search`` (a recipe's directory) and the
    current directory.
    """
    if isinstance(names, str):
        names = [names]
    for name in names:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"imports: entries are module names, got {name!r}")
        if name in sys.modules:
            continue
        extra = [
            p for p in dict.fromkeys([*map(os.fspath, search), os.getcwd()]) if p not in sys.path
        ]
        sys.path.extend(extra)
        try:
            importlib.import_module(name)
        except ImportError as e:
            raise ConfigError(f"imports: cannot import plugin module {name!r} ({e})") from None
        finally:
            for p in extra:
                sys.path.remove(p)


def load_entry_points() -> int:
    """Load every ``hnnframe.plugins`` entry point once per process; returns how many loaded."""
    global _loaded_entry_points
    if _loaded_entry_points:
        return 0
    _loaded_entry_points = True
    from importlib.metadata import entry_points

    n = 0
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
            n += 1
        except Exception as e:  # a broken plugin must not take the CLI down
            log.warning("plugin %s (%s) failed to load: %s", ep.name, ep.value, e)
    return n
