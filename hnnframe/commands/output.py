"""What every command prints: the ``--json`` printer, the per-item failure lines, the exit
statuses, and :func:`printable`, through which every name, path, label and error a stranger
could have chosen goes before it reaches a terminal."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from typing import IO, Any

from hnnframe.log import printable

#: Exit statuses of ``hnn index check`` (docs/index-guide.md, "Exit status"); the other
#: commands use 0, 2 and 70.
EXIT_CLEAN = 0  # every upload read, none suspect
EXIT_SUSPECT = 1  # at least one readable upload is suspect under --fail-on
EXIT_ERROR = 2  # the command itself failed: a bad option, an unreachable index
EXIT_UNREADABLE = 3  # none suspect, but at least one upload could not be read
EXIT_INTERNAL = 70  # a bug (sysexits' EX_SOFTWARE): never read as a verdict

__all__ = ["print_json", "printable", "report_failures"]


def _plain(obj: Any) -> Any:
    """JSON for what ``json`` does not know: numpy scalars and arrays as numbers, else text."""
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


def print_json(obj: Any, lines: bool = False) -> None:
    """Every command's ``--json`` output: one indented document on stdout, or with ``lines``
    one compact document per line (JSON Lines) for each item of ``obj``."""
    if lines:
        for item in obj:
            sys.stdout.write(json.dumps(item, default=_plain) + "\n")
    else:
        json.dump(obj, sys.stdout, indent=1, default=_plain)
        sys.stdout.write("\n")
    sys.stdout.flush()


def report_failures(failures: Iterable[Mapping[str, str]], file: IO[str] | None = None) -> int:
    """Print one ``hnn: error: ...`` line per failed item; the exit status (1 if any, else 0)."""
    n = 0
    for f in failures:
        print(f"hnn: error: {printable(f['error'])}", file=file or sys.stderr)
        n += 1
    return 1 if n else 0
