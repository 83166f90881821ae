"""``hnn serve`` against the CLI, in one run (issue 24); writes docs/bench_serve.md.

1. **Warm check**: the median of ``POST /v1/check`` of a small ONNX file to a warm server,
   beside the median of ``hnn index check`` of the same file (a process per check).
2. **Load**: 8 concurrent clients send 400 mixed requests (checks, adds, searches, bad
   uploads) to 2 workers on PostgreSQL: server errors, lost or duplicated adds, whether every
   bad upload got a 4xx, p50 and p95 latency.
3. **SIGKILL**: one worker is killed while adds of models with weights are in flight; no
   partial record is left (``verify`` and the weight rows of every record), every add is in
   the index once its client has retried, and the service answered throughout.
4. **Stats**: ``hnn index stats`` of a 100k-record SQLite index, a process per run.

The checkpoint is the tests' tiny one (trained here in a few seconds) unless ``--checkpoint``
names another; PostgreSQL is ``--postgres-url`` or a throwaway cluster
(tests/support/postgres_server.py).

    PYTHONPATH=. python benchmarks/bench_serve.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from _common import command as bench_command  # noqa: E402
from _common import sh_block  # noqa: E402
from bench_serve_load import kill_test, load_test  # noqa: E402
from support.models import tiny_checkpoint, tiny_models  # noqa: E402

from hnnframe.files import atomic_write  # noqa: E402

PY = sys.executable
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def hnn(*argv: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "hnnframe.cli", *map(str, argv)],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=ROOT,
        check=False,
    )


def warm_vs_cli(work: Path, ckpt: Path, models: list[Path], checks: int, cli_runs: int) -> dict:
    from support.serve import serving

    db = work / "warm.db"
    r = hnn("index", "add", "--db", db, "--checkpoint", ckpt, *models)
    assert r.returncode == 0, r.stderr
    upload = models[0]
    cli = []
    for _ in range(cli_runs):
        t0 = time.perf_counter()
        r = hnn("index", "check", "--db", db, upload, "--json")
        cli.append(time.perf_counter() - t0)
        assert r.returncode in (0, 1), r.stderr
    warm = []
    with serving("--db", db, "--data-dir", work / "warm-data") as s:
        body = upload.read_bytes()
        for i in range(checks + 3):
            t0 = time.perf_counter()
            a = s.client.post("/v1/check", files={"file": (upload.name, body)})
            dt = time.perf_counter() - t0
            assert a.status_code == 200, a.text
            if i >= 3:  # the first requests warm the server's caches
                warm.append(dt)
    return {
        "file": upload.name,
        "bytes": upload.stat().st_size,
        "cli": cli,
        "warm": warm,
        "cli_median": statistics.median(cli),
        "warm_median": statistics.median(warm),
    }


def stats_100k(work: Path, n: int, runs: int) -> dict:
    import hashlib

    import numpy as np

    import hnnframe.index as hindex
    from hnnframe.hashing import HashResult

    db = work / "big.db"
    rng = np.random.default_rng(0)
    with hindex.open(db) as idx:
        for start in range(0, n, 10000):
            idx.add(
                [
                    HashResult(
                        path=f"/models/m{i}.onnx",
                        name=f"m{i}",
                        sha256=hashlib.sha256(str(i).encode()).hexdigest(),
                        code=rng.integers(0, 256, 8, dtype=np.uint8).tobytes(),
                        bits=64,
                        category=("resnet", "vgg", "mlp")[i % 3],
                        embedding=np.zeros(4, np.float32),
                    )
                    for i in range(start, min(n, start + 10000))
                ],
                fingerprint="a" * 64,
            )
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = hnn("index", "stats", "--db", db)
        times.append(time.perf_counter() - t0)
        assert r.returncode == 0, r.stderr
    return {"records": n, "times": times, "median": statistics.median(times), "max": max(times)}


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def report(args: argparse.Namespace, w: dict, load: dict, kill: dict, st: dict) -> str:
    ratio = w["cli_median"] / w["warm_median"]
    lat = load["latency"]
    lines = [
        "# `hnn serve` against the CLI",
        "",
        "Written by `benchmarks/bench_serve.py`; every figure below is from one run of",
        "",
        *sh_block(bench_command(__file__, args.argv, env="PYTHONPATH=.")),
        "",
        f"on {os.cpu_count()} CPU core(s), load average {load['loadavg']} at the start of the "
        "load test (the machine is shared; figures are wall-clock). The checkpoint: "
        f"{args.checkpoint or 'the tests tiny one, trained by the script'} (Q={args.bits}).",
        "",
        "## Warm check against `hnn index check`",
        "",
        f"The same file ({w['file']}, {w['bytes']:,} bytes) checked against an index of "
        f"{args.indexed} models: {len(w['cli'])} runs of `hnn index check --json` (a process "
        f"each) and {len(w['warm'])} `POST /v1/check` to a warm server (after 3 warm-up "
        "requests).",
        "",
        "| | median | min | max |",
        "|---|---|---|---|",
        f"| `hnn index check` | {w['cli_median']:.3f} s | {min(w['cli']):.3f} s | {max(w['cli']):.3f} s |",
        f"| `POST /v1/check` (warm) | {w['warm_median']:.3f} s | {min(w['warm']):.3f} s | {max(w['warm']):.3f} s |",
        "",
        f"The warm check is **{ratio:.0f}x** faster (goal: 10x, and a median under 0.5 s: "
        f"{'met' if ratio >= 10 and w['warm_median'] < 0.5 else 'NOT met'}).",
        "",
        f"## Load: {load['clients']} clients, {load['requests']} requests, 2 workers on PostgreSQL",
        "",
        "| kind | requests | statuses | p50 | p95 |",
        "|---|---|---|---|---|",
    ]
    for kind, row in sorted(load["kinds"].items()):
        st_s = ", ".join(f"{k} x{v}" for k, v in sorted(row["statuses"].items()))
        lines.append(f"| {kind} | {row['n']} | {st_s} | {row['p50']:.3f} s | {row['p95']:.3f} s |")
    lines += [
        f"| all | {load['requests']} | | {_pct(lat, 0.5):.3f} s | {_pct(lat, 0.95):.3f} s |",
        "",
        f"- server errors (5xx or no answer): **{load['server_errors']}**",
        f"- adds: {load['add_files']} distinct files sent ({load['dup_sends']} of them sent "
        f"twice); {load['added']} answered 201, {load['exists']} answered 409; records in "
        f"the index for them: {load['in_index']}; lost: **{load['lost']}**, duplicated: "
        f"**{load['duplicated']}**",
        f"- bad uploads: {load['bad']} sent, **{load['bad_4xx']}** answered 4xx "
        f"({', '.join(f'{k} x{v}' for k, v in sorted(load['bad_statuses'].items()))})",
        f"- workers that answered: {load['workers']}",
        "",
        "## A worker killed with SIGKILL mid-add",
        "",
        f"{kill['clients']} clients add {kill['files']} ONNX models with weights "
        f"({kill['mb']:.1f} MB each); worker {kill['killed']} is killed with SIGKILL once "
        f"{kill['before']} adds have been answered, with {kill['in_flight']} requests in flight.",
        "",
        f"- requests that lost their connection to the killed worker: {kill['broken']} (each "
        "retried by its client)",
        f"- after the kill: {kill['answered_after']} requests answered, {kill['errors_after']} "
        f"server errors; `/healthz` answered {kill['health_ok']} of {kill['health_total']} "
        f"probes in the {kill['health_window']:.0f} s after the kill; "
        + (
            f"uvicorn's new worker answered {kill['restarted_after']:.1f} s after the kill"
            if kill["restarted_after"] is not None
            else "no new worker answered within 60 s"
        ),
        f"- index afterwards: {kill['records']} records for {kill['files']} files; every "
        f"record with its weight rows: {kill['with_weights']} of {kill['records']}; "
        f"`verify`: {kill['verify'] or 'no problem'}",
        f"- partial records: **{kill['partial']}**; lost adds: **{kill['lost']}**",
        "",
        f"## `hnn index stats` on {st['records']:,} records (SQLite)",
        "",
        f"{len(st['times'])} runs, a process each: median **{st['median']:.2f} s**, slowest "
        f"{st['max']:.2f} s (goal: under 1 s: {'met' if st['max'] < 1 else 'NOT met'}).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", help="model.pt (default: train the tests' tiny one)")
    p.add_argument("--postgres-url", help="default: a throwaway cluster")
    p.add_argument("--checks", type=int, default=30, help="warm checks timed")
    p.add_argument("--cli-runs", type=int, default=5, help="hnn index check runs timed")
    p.add_argument("--requests", type=int, default=400)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--kill-files", type=int, default=24)
    p.add_argument("--stats-records", type=int, default=100_000)
    p.add_argument("--out", default=str(ROOT / "docs" / "bench_serve.md"))
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    work = Path(tempfile.mkdtemp(prefix="hnn-bench-serve-"))
    models = tiny_models(work / "models")
    ckpt = Path(args.checkpoint) if args.checkpoint else tiny_checkpoint(models, work / "run")
    import torch

    args.bits = int(torch.load(ckpt, map_location="cpu", weights_only=False)["bits"])
    args.indexed = len(models)
    w = warm_vs_cli(work, ckpt, models, args.checks, args.cli_runs)
    print(f"warm {w['warm_median']:.3f} s, cli {w['cli_median']:.3f} s", flush=True)
    cluster = None
    url = args.postgres_url
    if not url:
        from support.postgres_server import ThrowawayCluster, bindir

        b = bindir()
        if b is None:
            raise SystemExit("PostgreSQL is not installed: pass --postgres-url")
        cluster = ThrowawayCluster(b)
        url = cluster.start()
    try:
        load = load_test(work, ckpt, models, url, args.requests, args.clients)
        print({k: v for k, v in load.items() if k != "latency"}, flush=True)
        kill = kill_test(work, ckpt, url, args.kill_files)
        print(kill, flush=True)
    finally:
        if cluster is not None:
            cluster.stop()
    st = stats_100k(work, args.stats_records, 5)
    print(f"stats {st}", flush=True)
    atomic_write(args.out, report(args, w, load, kill, st).encode())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
