"""The options several ``hnn`` commands share, each defined once with its name, default and
help: the index (``--db``), ``--json``, the checkpoint and torch device, parallel jobs, the
caches and recipe overrides. The ``--max-*`` bounds on an upload are in
:mod:`hnnframe.commands.limit_options`; what ``--json`` prints goes through
:mod:`hnnframe.commands.output`.

Building the parser runs on every ``hnn`` call, ``hnn --help`` included, so nothing here
imports more than the standard library and :mod:`hnnframe.commands.index_common`."""

from __future__ import annotations

import argparse
import os

from hnnframe.commands.index_common import DB_ENV

#: The caches an option may name: their name under the cache root ($HNN_CACHE_DIR, else
#: ~/.cache/hnnframe: hnnframe.files.cache_path), and what they hold.
CACHES = {
    "zoo": ("zoo", "the Table-1 zoo's graphs"),
    "variant": ("variants", "the transformed copies' graphs"),
    "corpus": ("corpus", "the hub corpus"),
    "ged": ("ged.sqlite", "the graph edit distances"),
}

#: Parsers and argument groups both take options.
Parser = argparse.ArgumentParser | argparse._ArgumentGroup


def add_db_option(p: Parser) -> None:
    """``--db``: the index, a SQLite file or a ``postgresql://`` URL ($HNN_INDEX_DB)."""
    p.add_argument(
        "--db",
        default=os.environ.get(DB_ENV),
        help=f"index file or postgresql:// URL (${DB_ENV})",
    )


def add_json_option(p: Parser, help: str = "print JSON instead of text") -> None:
    """``--json``: print JSON (through :func:`hnnframe.commands.output.print_json`)."""
    p.add_argument("--json", action="store_true", help=help)


def add_checkpoint_option(p: Parser, help: str, required: bool = False) -> None:
    """``--checkpoint CKPT``: a ``model.pt`` written by ``hnn train``."""
    p.add_argument("--checkpoint", metavar="CKPT", required=required, help=help)


def add_device_option(p: Parser, help: str = "torch device for hashing (default cpu)") -> None:
    """``--device``: the torch device the hasher runs on."""
    p.add_argument("--device", default="cpu", help=help)


def add_jobs_option(p: Parser, what: str) -> None:
    """``--jobs``: processes run at once, two by default (one on a one-core machine)."""
    p.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        metavar="J",
        help=f"parallel {what} (default 2, 1 on a one-core machine)",
    )


def add_cache_option(p: Parser, cache: str, flag: str | None = None) -> None:
    """``--CACHE-cache`` (or ``flag``): the folder (or file) of one of :data:`CACHES`."""
    name, what = CACHES[cache]
    p.add_argument(
        flag or f"--{cache}-cache",
        metavar="FILE" if "." in name else "DIR",
        help=f"{what} (default $HNN_CACHE_DIR/{name}, else ~/.cache/hnnframe/{name})",
    )


def add_overrides_argument(p: Parser, example: str, what: str = "") -> None:
    """The positional ``key=value`` recipe overrides."""
    p.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help=f"recipe overrides{what}, e.g. {example}",
    )
