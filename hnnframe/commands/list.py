"""``hnn list``: every registry of the package, gathered here where they are listed.

Each registry lives next to its base class; this command imports the modules that fill them
(and the installed plugins), so nothing below the command layer needs to know them all.
"""

from __future__ import annotations

import argparse
from typing import Any

from hnnframe.commands.options import add_json_option
from hnnframe.commands.output import print_json
from hnnframe.evidence import EVIDENCE
from hnnframe.plugins import load_entry_points
from hnnframe.presets import PRESETS


def registries() -> dict[str, Any]:
    """Every registry of the package by the name ``hnn list`` prints."""
    from hnnframe.canonical import CANONICALISERS
    from hnnframe.encoders import NODE_ENCODERS
    from hnnframe.ged import GED_METHODS
    from hnnframe.index import signals  # noqa: F401  (registers the built-in evidence signals)
    from hnnframe.losses import LOSSES
    from hnnframe.merge import MERGE_RULES
    from hnnframe.nn import BACKBONES, POOLINGS
    from hnnframe.sources import SOURCES
    from hnnframe.variants import TRANSFORMS

    load_entry_points()
    return {
        "canonicalisers": CANONICALISERS,
        "merge_rules": MERGE_RULES,
        "graph_presets": PRESETS,
        "node_encoders": NODE_ENCODERS,
        "backbones": BACKBONES,
        "poolings": POOLINGS,
        "losses": LOSSES,
        "ged_methods": GED_METHODS,
        "transforms": TRANSFORMS,
        "sources": SOURCES,
        "evidence_signals": EVIDENCE,
    }


def cmd_list(args: argparse.Namespace) -> int:
    regs = {k: r.names() for k, r in registries().items()}
    if args.json:
        print_json(regs)
        return 0
    for k, names in regs.items():
        if k == "sources":  # each with what it gives
            from hnnframe.sources import SOURCES

            names = [f"{n} ({'+'.join(sorted(SOURCES.get(n).GIVES))})" for n in names]
        if k == "transforms":  # derived architectures are no copies: say so
            from hnnframe.variants import get_transform

            names = [f"{n} (derived)" if get_transform(n).derived else n for n in names]
        print(f"{k:<15} {', '.join(names)}")
    return 0


def register(sub: Any) -> None:
    ls = sub.add_parser(
        "list",
        help="list every registry's entries",
        description="List the registered canonicalisation passes, merge rules, graph presets "
        "(graph: {preset: NAME} in a recipe), node encoders, backbones, poolings, losses, GED "
        "methods, variant transforms, model sources (each with what it gives: structure, "
        "weights or both) and evidence signals, including those of installed plugins "
        "(entry-point group hnnframe.plugins).",
    )
    add_json_option(ls, "print JSON")
    ls.set_defaults(func=cmd_list)
