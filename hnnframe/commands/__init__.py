"""Subcommands of ``hnn`` beyond Stage 1. Each module defines ``register(subparsers)``."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_json(obj: Any) -> None:
    """Every command's ``--json`` output: one indented document on stdout."""
    json.dump(obj, sys.stdout, indent=1, default=str)
    sys.stdout.write("\n")
