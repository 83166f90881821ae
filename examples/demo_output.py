"""What ``make demo`` prints on a machine with nothing cached, as docs/getting-started.md shows.

Run:
    python examples/demo_output.py --write docs/getting-started.md

It runs ``hnn demo`` (what ``make demo`` runs once the virtual environment exists) with
``HNN_CACHE_DIR`` pointing at an empty directory, so the zoo, the corpus slice and the tool-made
copies are all built as on a fresh machine, and times it. ``--write`` replaces the
``demo-output`` block of that Markdown file with the command, its wall-clock time and what it
printed (progress bars, which go to stderr, left out).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def commit() -> str:
    p = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return p.stdout.strip() or "unknown"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", help="Markdown file whose demo-output block gets the output")
    ap.add_argument("--out", default="runs/demo", help="hnn demo's output directory")
    args = ap.parse_args()
    hnn = str(Path(sys.executable).with_name("hnn"))
    with tempfile.TemporaryDirectory(prefix="hnn-demo-cache-") as cache:
        env = {**os.environ, "HNN_CACHE_DIR": cache, "PYTHONWARNINGS": "ignore"}
        load = os.getloadavg()[0]  # other jobs on the cores slow the demo down: say so
        t0 = time.perf_counter()
        p = subprocess.run(
            [hnn, "demo", "--out", args.out, "--restart"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        minutes = (time.perf_counter() - t0) / 60
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"hnn demo failed with status {p.returncode}: {tail}")
    print(p.stdout, end="")
    print(f"hnn demo took {minutes:.1f} min with an empty cache", file=sys.stderr)
    if args.write:
        from hnnframe.reproduce import write_block

        text = (
            f"Produced by `python examples/demo_output.py --write {args.write}` at commit "
            f"{commit()}: `hnn demo` with an empty cache (`HNN_CACHE_DIR` a new directory) took "
            f"**{minutes:.1f} min** of wall-clock time on this 2-core machine, whose 1-minute "
            f"load average was {load:.1f} when it started (other jobs running beside it slow it "
            "down; the virtual environment was already built, which takes about 3 min more "
            "from the local wheels). It printed:\n\n```text\n" + p.stdout.rstrip() + "\n```"
        )
        write_block(args.write, "demo-output", text)
        print(f"wrote the demo-output block of {args.write}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
