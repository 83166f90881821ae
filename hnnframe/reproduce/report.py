"""What every results block shares: its provenance line, its place in docs/results.md, and
the time lines under its tables.

docs/results.md gets one block per experiment, between ``<!-- NAME:begin -->`` and
``<!-- NAME:end -->`` markers, headed by the command and commit that produced it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hnnframe import files


def provenance(command: str) -> str:
    """``Produced by `command` at commit C.``, saying when the code has uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            check=True,
        ).stdout.strip()
        # Changes to docs/ (the results being written) do not make the code differ.
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ":/",
                ":(exclude,top)docs",
            ],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
        commit += " (with uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return f"Produced by `{command}` at commit {commit}."


RESULTS_HEAD = "# Results\n\nEvery number here is written by the command named above it.\n\n"


def write_block(path: str | os.PathLike[str], name: str, text: str) -> None:
    """Replace (or append) block ``name`` of docs/results.md (:func:`hnnframe.files.write_block`)."""
    files.write_block(path, name, text.rstrip(), new_file=RESULTS_HEAD)


def time_footer(results: Sequence[dict[str, Any]]) -> list[str]:
    """The lines under a table: training and evaluation time summed over its runs."""
    total = sum(r["seconds"] for r in results)
    return ["", f"Training and evaluation time summed over runs: {total / 60:.1f} min.", ""]


def wall_clock_line(results: Sequence[dict[str, Any]], seconds: float) -> str:
    """How long this invocation took, when it trained every run itself (else say so)."""
    reused = sum(1 for r in results if r.get("reused"))
    if reused:
        return (
            f"{reused} of {len(results)} runs were reused from an earlier invocation, so "
            "this one's wall-clock time says nothing about the whole experiment."
        )
    return (
        f"Wall-clock time of this command, every run trained now, pairwise GEDs included: "
        f"{seconds / 60:.1f} min."
    )
