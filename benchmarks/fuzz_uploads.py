"""The fuzz suite's longer run (tests/test_fuzz_uploads.py runs the same generator briefly).

Generates ``--cases`` hostile uploads (tests/support/hostile_files.py: the issue's named
regressions and seeded mutations of ONNX, safetensors, state-dict, GGUF and config uploads), then

1. fingerprints every file's weights in this process, each under ``tracemalloc`` and a clock,
   with an audit hook that records any file opened outside the uploads;
2. runs ``hnn index check --json`` over every upload and a true copy, and ``hnn index add`` over
   every upload and two good files, in audited subprocesses (a tiny checkpoint is trained first
   unless ``--checkpoint`` is given).

It reports the cases tried per kind, crashes (any exception that is not one error line),
reads outside the uploads, good files lost from the batch, and the worst case's time and peak
memory against their limits. Results go to docs/fuzz_uploads.md.

    .venv/bin/python benchmarks/fuzz_uploads.py                 # 2,000 cases
    .venv/bin/python benchmarks/fuzz_uploads.py --cases 200 --out /tmp/f.md
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import onnx  # noqa: E402
import torch  # noqa: E402
from _common import command as bench_command  # noqa: E402
from support.hostile_files import AUDITED_CLI, base_onnx, generate  # noqa: E402

from hnnframe import limits  # noqa: E402
from hnnframe.errors import HnnError  # noqa: E402
from hnnframe.reproduce import write_block  # noqa: E402
from hnnframe.weights.fingerprint import fingerprint  # noqa: E402

OUTSIDE_HITS: list[str] = []
_WATCH: list[str] = []


def _hook(event: str, args: tuple) -> None:
    if event == "open" and _WATCH and args and isinstance(args[0], str | bytes | os.PathLike):
        try:
            real = os.path.realpath(os.fsdecode(args[0]))
        except (OSError, ValueError):
            return
        if real.startswith(_WATCH[0] + os.sep):
            OUTSIDE_HITS.append(real)


def in_process(cases: list) -> dict:
    """Every upload's weights fingerprinted under tracemalloc and a clock (a FIFO opened would
    hang here: none is, since every path is stat-ed first)."""
    outcome: collections.Counter = collections.Counter()
    crashes, worst_t, worst_m = [], (0.0, ""), (0, "")
    for c in cases:
        tracemalloc.start()
        t0 = time.perf_counter()
        try:
            with limits.deadline(c.path):
                fingerprint(c.path, 64)
            outcome["fingerprinted"] += 1
        except HnnError:
            outcome["one-line error"] += 1
        except BaseException as e:  # noqa: BLE001 - what the run looks for
            crashes.append(f"{c.kind}: {type(e).__name__}: {e}"[:200])
        dt = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        worst_t = max(worst_t, (dt, c.kind))
        worst_m = max(worst_m, (peak, c.kind))
    return {
        "outcome": dict(outcome),
        "crashes": crashes,
        "worst_time": worst_t,
        "worst_memory": worst_m,
    }


def tiny_checkpoint(work: Path) -> Path:
    """The tests' tiny checkpoint: the paper recipe, 3 epochs on the tiny models."""
    from support.models import tiny_checkpoint as train
    from support.models import tiny_models

    return train(tiny_models(work / "tiny"), work / "run")


def audited(outside: Path, work: Path, *argv: object) -> dict:
    log = work / "audit.json"
    env = {
        **os.environ,
        "HNN_AUDIT_OUTSIDE": str(outside),
        "HNN_AUDIT_LOG": str(log),
        "PYTHONPATH": str(ROOT),
    }
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-c", AUDITED_CLI, *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    return {
        "rc": r.returncode,
        "stdout": r.stdout,
        "stderr": r.stderr,
        "hits": json.loads(log.read_text()),
        "seconds": time.perf_counter() - t0,
    }


def _tracebacks(stderr: str) -> list[str]:
    """Each line that mentions a traceback, with the line after it (what was raised, when the
    traceback is a real one)."""
    lines = stderr.splitlines()
    out = []
    for i, ln in enumerate(lines):
        if "Traceback" in ln:
            end = next((j for j in range(i + 1, len(lines)) if not lines[j].startswith(" ")), i)
            out.append(f"{ln[:200]} / {lines[end][:200]}")
    return out


def cli_runs(cases: list, outside: Path, work: Path, checkpoint: Path) -> dict:
    good = work / "good"
    (good / "copy").mkdir(parents=True)
    onnx.save(base_onnx(0), str(good / "protected.onnx"))
    onnx.save(base_onnx(0), str(good / "copy" / "upload.onnx"))
    onnx.save(base_onnx(1), str(good / "other.onnx"))
    keep = [str(good / "protected.onnx"), str(good / "other.onnx")]
    files = [str(c.path) for c in cases]
    db = work / "index.db"
    add = audited(
        outside,
        work,
        "index",
        "add",
        "--db",
        db,
        "--checkpoint",
        checkpoint,
        "--json",
        *files[: len(files) // 2],
        *keep,
        *files[len(files) // 2 :],
    )
    if not add["stdout"].strip():
        raise SystemExit(f"index add printed nothing (exit {add['rc']}): {add['stderr'][-3000:]}")
    added = {r["path"]: r for r in json.loads(add["stdout"])["results"]}
    check = audited(
        outside,
        work,
        "index",
        "check",
        "--db",
        db,
        "--json",
        *files,
        str(good / "copy" / "upload.onnx"),
    )
    rows = json.loads(check["stdout"]) if check["stdout"].strip() else []
    return {
        "add_rc": add["rc"],
        "check_rc": check["rc"],
        "tracebacks": add["stderr"].count("Traceback") + check["stderr"].count("Traceback"),
        "traceback_tails": _tracebacks(add["stderr"]) + _tracebacks(check["stderr"]),
        "outside": add["hits"] + check["hits"],
        "good_lost": sum(not added.get(k, {}).get("added") for k in keep),
        "copy_suspect": bool(rows and rows[-1].get("suspect")),
        "verdicts": sum("error" not in r for r in rows),
        "errors": sum("error" in r for r in rows),
        "reported": len(rows),
        "seconds": add["seconds"] + check["seconds"],
    }


def render(args: argparse.Namespace, kinds: collections.Counter, mine: dict, cli: dict) -> str:
    lim = limits.current()
    t, tk = mine["worst_time"]
    m, mk = mine["worst_memory"]
    lines = [
        f"Made by `{args.command}` ({sum(kinds.values())} uploads, seed {args.seed}).",
        "",
        "| figure | value |",
        "|---|---|",
        f"| uploads tried | {sum(kinds.values())} |",
        f"| weights read in-process | {sum(mine['outcome'].values()) + len(mine['crashes'])}"
        f" ({', '.join(f'{v} {k}' for k, v in sorted(mine['outcome'].items()))}) |",
        f"| crashes (in-process) | {len(mine['crashes'])} |",
        f"| tracebacks (`index add`, `index check`) | {cli['tracebacks']} |",
        f"| files opened outside the uploads | {len(OUTSIDE_HITS) + len(cli['outside'])} |",
        f"| good files lost from the `add` batch | {cli['good_lost']} of 2 |",
        f"| `check`: uploads reported / verdicts / error lines | {cli['reported']} / "
        f"{cli['verdicts']} / {cli['errors']} |",
        f"| `check`: the true copy SUSPECT, exit status | {cli['copy_suspect']}, {cli['check_rc']} |",
        f"| worst case, time (in-process) | {t:.3f} s ({tk}); limit {lim.max_seconds:g} s |",
        f"| worst case, peak traced memory | {m / 1e6:.2f} MB ({mk}); largest tensor allowed "
        f"{lim.max_tensor:,} elements |",
        f"| `add` + `check` wall time | {cli['seconds']:.0f} s |",
        "",
        "Uploads per kind: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) + ".",
    ]
    if mine["crashes"]:
        lines += ["", "Crashes:", *[f"- {c}" for c in mine["crashes"]]]
    if cli["traceback_tails"]:
        lines += [
            "",
            "Tracebacks (the line before, and what was raised):",
            *[f"- `{t}`" for t in cli["traceback_tails"]],
        ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=2000, help="seeded mutations (default 2000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint", type=Path, help="default: train the tests' tiny checkpoint")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "fuzz_uploads.md")
    args = ap.parse_args()
    args.command = bench_command(__file__)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        buf = io.BytesIO()
        torch.save({"w": torch.randn(8, 16), "b": torch.randn(16)}, buf)
        mk, cases = generate(work / "bed", args.seed, args.cases, buf.getvalue())
        kinds = collections.Counter(c.kind.split("-")[0] for c in cases)
        sys.addaudithook(_hook)
        _WATCH.append(os.path.realpath(mk.outside))
        mine = in_process(cases)
        _WATCH.clear()
        ckpt = args.checkpoint or tiny_checkpoint(work)
        cli = cli_runs(cases, mk.outside, work, ckpt)
    text = render(args, kinds, mine, cli)
    print(text)
    if not args.out.exists():
        args.out.write_text(
            "# Hostile uploads: the fuzz run\n\nWritten by benchmarks/fuzz_uploads.py; "
            "docs/index-guide.md (Security) says what the figures mean.\n"
        )
    write_block(args.out, "fuzz-uploads", text)


if __name__ == "__main__":
    main()
