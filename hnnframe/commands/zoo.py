"""``hnn zoo``: the model zoo of the paper's Table 1 (section 4.1.3), cached as graphs."""

from __future__ import annotations

import argparse
import time
from typing import Any

from hnnframe.commands.options import add_cache_option, add_jobs_option, add_json_option
from hnnframe.commands.output import print_json


def cmd_zoo_build(args: argparse.Namespace) -> int:
    from hnnframe.data.zoo import build_zoo, load_zoo

    t0 = time.perf_counter()
    out = build_zoo(args.cache, jobs=args.jobs, force=args.force, progress=not args.json)
    zoo = load_zoo(args.cache)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    rows = [
        {
            "name": e.name,
            "category": e.category,
            "nodes": g.num_nodes,
            "edges": g.num_edges,
            "params": g.total_params,
            "flops": g.total_flops,
        }
        for e, g in zoo
    ]
    result = {"cache": str(out), "models": rows, "bytes": size, "seconds": time.perf_counter() - t0}
    if args.json:
        print_json(result)
        return 0
    print(f"{'model':<20} {'category':<11} {'nodes':>6} {'params':>12} {'GFLOPs':>8}")
    for r in rows:
        print(
            f"{r['name']:<20} {r['category']:<11} {r['nodes']:>6} {r['params']:>12,} "
            f"{r['flops'] / 1e9:>8.2f}"
        )
    print(f"{len(rows)} models in {out} ({size / 1e6:.1f} MB) in {result['seconds']:.0f} s")
    return 0


def register(sub: Any) -> None:
    z = sub.add_parser("zoo", help="the Table-1 model zoo", description="Manage the model zoo.")
    zsub = z.add_subparsers(dest="zoo_command", metavar="ZOO_COMMAND", required=True)
    zb = zsub.add_parser(
        "build",
        help="export the 21 Table-1 torchvision models and cache their graphs",
        description="Export the paper's Table-1 models with weights=None, strip weights, and "
        "cache their ONNX structure and raw graphs (a few MB). Cached models are skipped.",
    )
    add_cache_option(zb, "zoo", flag="--cache")
    add_jobs_option(zb, "exports")
    zb.add_argument("--force", action="store_true", help="re-export models already cached")
    add_json_option(zb, "print JSON instead of a table")
    zb.set_defaults(func=cmd_zoo_build)
