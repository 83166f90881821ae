"""Benchmark hashing speed and peak memory (issue: Stage 2 performance).

Measures, with a trained checkpoint, on the zoo cache's weight-stripped ONNX files:

* single: hashing densenet201 (the largest zoo graph) from its ONNX file, per call, with the
  time split into stages (ONNX read + shape inference, OpGraph, merge, encode + DGL, network);
* batch: hashing all zoo models in one ``Hasher.hash_many`` call (models/s), export excluded.

Each mode runs in a fresh subprocess so that its peak RSS is its own. Results go to
docs/bench_hash.md (with this command line at the top) and to stdout as JSON.

Usage: python benchmarks/bench_hash.py --checkpoint runs/demo/model.pt [--zoo-cache DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import command as bench_command
from _common import peak_rss_mb

ROOT = Path(__file__).resolve().parent.parent


def run_single(ckpt: str, zoo: Path, repeats: int) -> dict[str, float]:
    from hnnframe.dgl_compat import to_dgl
    from hnnframe.frontends import load_onnx_file
    from hnnframe.hashing import Hasher
    from hnnframe.ir import from_onnx
    from hnnframe.nn import infer
    from hnnframe.pipeline import prepare_graph

    hasher = Hasher.from_checkpoint(ckpt)
    path = zoo / "onnx" / "densenet201.onnx"
    hasher.hash_many([str(path)])  # warm-up: imports, allocator
    totals, stages = [], {"onnx": [], "graph": [], "merge": [], "encode": [], "network": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        hasher.hash_many([str(path)])
        totals.append(time.perf_counter() - t0)
        # The same work, stage by stage.
        t = time.perf_counter()
        proto = load_onnx_file(path)
        stages["onnx"].append(time.perf_counter() - t)
        t = time.perf_counter()
        g = from_onnx(proto, "densenet201")
        stages["graph"].append(time.perf_counter() - t)
        t = time.perf_counter()
        g, _ = prepare_graph(g, hasher.recipe.get("graph", {}))
        stages["merge"].append(time.perf_counter() - t)
        t = time.perf_counter()
        dg = to_dgl(g, hasher.encoder.encode(g))
        stages["encode"].append(time.perf_counter() - t)
        t = time.perf_counter()
        infer(hasher.model, [dg])
        stages["network"].append(time.perf_counter() - t)
    out = {
        "seconds_median": statistics.median(totals),
        "seconds_min": min(totals),
        "nodes": g.num_nodes,
    }
    out.update({f"stage_{k}_median": statistics.median(v) for k, v in stages.items()})
    return out


def run_batch(ckpt: str, zoo: Path, repeats: int) -> dict[str, float]:
    from hnnframe.hashing import Hasher

    hasher = Hasher.from_checkpoint(ckpt)
    files = sorted(str(p) for p in (zoo / "onnx").glob("*.onnx"))
    hasher.hash_many(files[:2])
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        hasher.hash_many(files)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {"models": len(files), "seconds_median": med, "models_per_s": len(files) / med}


def child(mode: str, ckpt: str, zoo: Path, repeats: int) -> None:
    import torch

    # One intra-op thread: these graphs are small, and a second thread only spins against
    # other jobs on a shared 2-core machine.
    torch.set_num_threads(1)
    rss0 = peak_rss_mb()
    res = (run_single if mode == "single" else run_batch)(ckpt, zoo, repeats)
    res["peak_rss_mb"] = peak_rss_mb()
    res["rss_after_imports_mb"] = rss0
    print(json.dumps(res))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--checkpoint", required=True, help="a model.pt from hnn train")
    ap.add_argument("--zoo-cache", default=None, help="zoo cache (default ~/.cache/hnnframe/zoo)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "docs" / "bench_hash.md"), help="markdown report")
    ap.add_argument("--mode", choices=["single", "batch"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    from hnnframe.data.zoo import zoo_dir

    zoo = zoo_dir(args.zoo_cache)
    if args.mode:
        child(args.mode, args.checkpoint, zoo, args.repeats)
        return
    results = {}
    for mode in ("single", "batch"):
        cmd = [
            sys.executable,
            __file__,
            "--mode",
            mode,
            "--checkpoint",
            args.checkpoint,
            "--repeats",
            str(args.repeats),
        ] + (["--zoo-cache", args.zoo_cache] if args.zoo_cache else [])
        r = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results[mode] = json.loads(r.stdout.strip().splitlines()[-1])
    print(json.dumps(results, indent=1))
    s, b = results["single"], results["batch"]
    command = bench_command(__file__)
    lines = [
        "# Hashing speed and memory",
        "",
        f"Produced by `{command}` on a 2-core CPU machine (torch threads = 1).",
        "",
        "| measurement | value | target |",
        "|---|---|---|",
        f"| densenet201 from ONNX, one model, median of {args.repeats} | {s['seconds_median'] * 1000:.0f} ms | <= 200 ms |",
        f"| zoo batch ({b['models']} models), export excluded | {b['models_per_s']:.1f} models/s | >= 20 models/s |",
        f"| peak RSS, single-model run | {s['peak_rss_mb']:.0f} MB (after imports {s['rss_after_imports_mb']:.0f} MB) | |",
        f"| peak RSS, batch run | {b['peak_rss_mb']:.0f} MB (after imports {b['rss_after_imports_mb']:.0f} MB) | |",
        "",
        f"densenet201 stages (median, ms), {s['nodes']} nodes after merging:",
        "",
        "| ONNX read + shapes | OpGraph | merge | encode + DGL | network |",
        "|---|---|---|---|---|",
        "| "
        + " | ".join(
            f"{s[f'stage_{k}_median'] * 1000:.1f}"
            for k in ("onnx", "graph", "merge", "encode", "network")
        )
        + " |",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
