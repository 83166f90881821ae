"""What the benchmark reports share: the command line behind their figures, the machine line,
and peak memory (of this process, or of a child process run and measured).

Benchmarks are scripts, not part of the package: ``python benchmarks/NAME.py`` puts
``benchmarks/`` first on ``sys.path``, so each imports this module as ``_common``. Peak memory
is the kernel's high-water mark of the resident set (``getrusage(2)``'s ``ru_maxrss``, in
kilobytes on Linux), for this process or, through ``wait4(2)``, for one child alone.
"""

from __future__ import annotations

import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def command(script: str, argv: Sequence[str] | None = None, env: str = "") -> str:
    """``[ENV ]python benchmarks/NAME.py ARGS``: the command that produced the figures.

    ``script`` is the benchmark's ``__file__``; ``argv`` its arguments (default
    ``sys.argv[1:]``), shell-quoted so that the line can be pasted back; ``env`` a prefix such
    as ``PYTHONPATH=.``.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    words = [env] if env else []
    return " ".join([*words, "python", f"benchmarks/{Path(script).name}", *map(shlex.quote, args)])


def sh_block(cmd: str) -> list[str]:
    """The command as a Markdown ``sh`` block, one list item a line."""
    return ["```sh", cmd, "```"]


def cpu_name() -> str:
    """The CPU model (``model name`` of /proc/cpuinfo), or what :mod:`platform` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> str:
    """``CPU model, N logical CPUs``: the machine line of a report."""
    return f"{cpu_name()}, {os.cpu_count()} logical CPUs"


def peak_rss_mb() -> float:
    """This process's peak resident set so far, in MiB (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measured(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``args`` in a fresh process: its wall time, its own peak RSS (``os.wait4``), its
    exit code and its output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {
            "seconds": seconds,
            "peak_rss_mb": usage.ru_maxrss / 1024,  # kilobytes on Linux
            "rc": proc.returncode,
            "stdout": out.read().decode(),
            "stderr": err.read().decode(),
        }
