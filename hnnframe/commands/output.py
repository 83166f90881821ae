"""What every command prints: the ``--json`` printer and the per-item failure lines."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from typing import IO, Any


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
        print(f"hnn: error: {f['error']}", file=file or sys.stderr)
        n += 1
    return 1 if n else 0
