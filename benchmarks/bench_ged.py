"""Benchmark of the bipartite GED (paper section 3.4, eq. 7): speed, tightness, all zoo pairs.

Measures, on the zoo cache that ``hnn zoo build`` writes:

* the time of one pair of raw zoo graphs (the largest pair and a small one), for the plain
  Riesen-Bunke method on the full ``(n+m)`` matrix and on the reduced one, and for the
  default method (alignment start and refinement);
* the tightness: against networkx's exact GED on small random graphs, and on every raw zoo
  graph against its node-deleted copies, where the exact GED is known (deleted nodes plus
  their edges, which :func:`hnnframe.ged.lower_bound` also gives);
* the wall time of :func:`hnnframe.ged.pairwise_ged` over all pairs of the augmented zoo
  (each model merged, plus ``--copies`` node-deleted copies, deleted on the raw graph and then
  merged with DEFAULT_RULES), computed cold into a fresh cache and then read back warm.

Writes ``bench_ged.json`` and ``bench_ged.md`` (with the command at the top) to ``--out-dir``.
Run: ``python benchmarks/bench_ged.py --zoo-cache /tmp/zootest``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import command as bench_command


def _timeit(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _random_graph(rng: np.random.Generator, n: int, p: float = 0.35) -> Any:
    from hnnframe.ir import OpGraph, OpNode

    ops = rng.choice(["Conv", "Relu", "Add"], size=n)
    edges = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < p]
    return OpGraph([OpNode(str(o)) for o in ops], edges)


def _twice(g: Any) -> Any:
    """Two disjoint copies of ``g``: a pair as large as the 1.1k/1.4k-node exports of DESIGN.md."""
    from hnnframe.ir import OpGraph

    n = len(g)
    edges = list(g.edges) + [(s + n, d + n) for s, d in g.edges]
    return OpGraph(list(g.nodes) * 2, edges, f"2x{g.name}")


def bench_single(zoo: dict[str, Any], repeats: int) -> list[dict[str, Any]]:
    from hnnframe.ged import BipartiteGED

    methods = {
        "rb_full": BipartiteGED(align=False, refine=0, reduced=False),
        "rb_reduced": BipartiteGED(align=False, refine=0),
        "default": BipartiteGED(),
    }
    zoo = {**zoo, "2x densenet161": _twice(zoo["densenet161"])}
    zoo["2x densenet201"] = _twice(zoo["densenet201"])
    rows = []
    pairs = [("2x densenet161", "2x densenet201"), ("densenet161", "densenet201")]
    for a, b in [*pairs, ("resnet18", "resnet34")]:
        g1, g2 = zoo[a], zoo[b]
        for key, m in methods.items():
            value = m(g1, g2)
            sec = _timeit(lambda m=m, g1=g1, g2=g2: m(g1, g2), repeats)
            rows.append(
                {
                    "pair": f"{a} ({len(g1)}) vs {b} ({len(g2)})",
                    "method": key,
                    "ged": value,
                    "seconds": round(sec, 4),
                }
            )
            print(f"  {rows[-1]}")
    return rows


def bench_exact(n_pairs: int, seed: int) -> dict[str, Any]:
    from hnnframe.ged import BipartiteGED, ExactGED

    rng = np.random.default_rng(seed)
    exact = ExactGED(timeout=30)
    methods = {"rb": BipartiteGED(align=False, refine=0), "default": BipartiteGED()}
    ex, vals = [], {k: [] for k in methods}
    for _ in range(n_pairs):
        g1 = _random_graph(rng, int(rng.integers(5, 8)))
        g2 = _random_graph(rng, int(rng.integers(5, 8)))
        ex.append(exact(g1, g2))
        for k, m in methods.items():
            vals[k].append(m(g1, g2))
    e = np.array(ex)
    out: dict[str, Any] = {"pairs": n_pairs, "nodes": "5-7", "edge_prob": 0.35, "seed": seed}
    for k, v in vals.items():
        a = np.array(v)
        out[k] = {
            "below_exact": int(np.sum(a < e)),
            "equal": round(float(np.mean(a == e)), 3),
            "mean_ratio": round(float(np.mean(a / np.maximum(e, 1))), 3),
            "max_ratio": round(float(np.max(a / np.maximum(e, 1))), 3),
        }
    return out


def bench_deletion(raw: list[tuple[str, Any]], copies: int, frac: float) -> dict[str, Any]:
    from hnnframe.data.augment import delete_nodes
    from hnnframe.ged import BipartiteGED, lower_bound

    out: dict[str, Any] = {}
    for key, m in {"rb": BipartiteGED(align=False, refine=0), "default": BipartiteGED()}.items():
        excess = []
        t0 = time.perf_counter()
        for _, g in raw:
            for seed in range(copies):
                h = delete_nodes(g, frac, seed)
                exact = (len(g) - len(h)) + (g.num_edges - h.num_edges)
                assert lower_bound(g, h) == exact
                excess.append(m(g, h) - exact)
        x = np.array(excess)
        out[key] = {
            "pairs": int(x.size),
            "at_exact": int(np.sum(x == 0)),
            "mean_excess": round(float(x.mean()), 2),
            "max_excess": float(x.max()),
            "seconds": round(time.perf_counter() - t0, 2),
        }
        print(f"  deletion {key}: {out[key]}")
    return out


def augmented_zoo(raw: list[tuple[str, Any]], copies: int, frac: float) -> list[Any]:
    from hnnframe.data.augment import delete_nodes
    from hnnframe.merge import apply_rules
    from hnnframe.presets import DEFAULT_RULES

    graphs = []
    for _, g in raw:
        graphs.append(apply_rules(g, DEFAULT_RULES)[0])
        for seed in range(copies):
            graphs.append(apply_rules(delete_nodes(g, frac, seed), DEFAULT_RULES)[0])
    return graphs


def bench_all_pairs(graphs: list[Any], args: argparse.Namespace) -> dict[str, Any]:
    from hnnframe.ged import BipartiteGED, GEDCache, lower_bound, pairwise_ged

    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(args.cache) if args.cache else Path(tmp) / "ged.sqlite"
        t0 = time.perf_counter()
        D = pairwise_ged(
            graphs,
            jobs=args.jobs,
            cache=cache,
            progress=not args.no_progress,
            mp_context=args.mp_context,
        )
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        D2 = pairwise_ged(graphs, jobs=args.jobs, cache=cache, progress=False)
        warm = time.perf_counter() - t0
        assert np.array_equal(D, D2)
        with GEDCache(cache) as c:
            cached = len(c)
        size = cache.stat().st_size + sum(
            p.stat().st_size for p in cache.parent.glob(cache.name + "-*")
        )
    n = len(graphs)
    iu = np.triu_indices(n, 1)
    vals = D[iu]
    rng = np.random.default_rng(0)
    sample = rng.choice(vals.size, size=min(args.rb_sample, vals.size), replace=False)
    rb = BipartiteGED(align=False, refine=0)
    lbs, rbs = [], []
    for s in sample:
        i, j = iu[0][s], iu[1][s]
        lbs.append(lower_bound(graphs[i], graphs[j]))
        rbs.append(rb(graphs[i], graphs[j]))
    lbs_a, rbs_a, ours = np.array(lbs), np.array(rbs), vals[sample]
    sizes = [len(g) for g in graphs]
    return {
        "graphs": n,
        "nodes_min_mean_max": [min(sizes), round(float(np.mean(sizes)), 1), max(sizes)],
        "pairs": int(vals.size),
        "pairs_cached": cached,
        "jobs": args.jobs,
        "mp_context": args.mp_context,
        "cold_seconds": round(cold, 1),
        "warm_seconds": round(warm, 2),
        "cache_bytes": size,
        "ged_mean": round(float(vals.mean()), 1),
        "ged_max": float(vals.max()),
        "sample": {
            "pairs": int(sample.size),
            "default_over_rb_mean": round(float(np.mean(ours / np.maximum(rbs_a, 1))), 3),
            "default_at_lower_bound": round(float(np.mean(ours == lbs_a)), 3),
            "rb_at_lower_bound": round(float(np.mean(rbs_a == lbs_a)), 3),
        },
    }


def write_report(result: dict[str, Any], out_dir: Path, command: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench_ged.json").write_text(json.dumps(result, indent=1) + "\n")
    ap, ex, de = result["all_pairs"], result["exact"], result["deletion"]
    lines = [
        "# GED benchmark",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {result['machine']}; 1-minute load average {result['load_average_1min'][0]}"
        f" at the start and {result['load_average_1min'][1]} at the end (the machine is shared).",
        "Figures written by benchmarks/bench_ged.py; raw numbers",
        "in docs/bench_ged.json. Methods: `rb` is plain Riesen-Bunke (`BipartiteGED(align=False,",
        "refine=0)`), `default` is `BipartiteGED()` (alignment start and refinement).",
        "",
        "## All pairs of the augmented zoo",
        "",
        f"{ap['graphs']} graphs (21 models merged with DEFAULT_RULES plus {result['copies']}"
        f" copies each with {result['frac']:.0%} of the nodes deleted, then merged; nodes"
        f" min/mean/max {ap['nodes_min_mean_max']}), {ap['pairs']} pairs,"
        f" `pairwise_ged(jobs={ap['jobs']}, mp_context={ap['mp_context']!r})`:",
        "",
        "| cold (computed, cached) | warm (from cache) | cache file | mean GED | max GED |",
        "|---|---|---|---|---|",
        f"| {ap['cold_seconds']} s | {ap['warm_seconds']} s | {ap['cache_bytes'] / 1e6:.1f} MB"
        f" | {ap['ged_mean']} | {ap['ged_max']:.0f} |",
        "",
        f"On a random sample of {ap['sample']['pairs']} of these pairs: default / rb mean"
        f" ratio {ap['sample']['default_over_rb_mean']}; share at the lower bound (hence exact):"
        f" default {ap['sample']['default_at_lower_bound']}, rb {ap['sample']['rb_at_lower_bound']}.",
        "",
        "## One pair (raw graphs, median of repeats)",
        "",
        "`2x NAME` is two disjoint copies of the raw graph, a pair of the size (about 1.1k vs",
        "1.4k nodes) of the densenet exports measured in DESIGN.md.",
        "",
        "| pair | method | GED | seconds |",
        "|---|---|---|---|",
        *[
            f"| {r['pair']} | {r['method']} | {r['ged']:.0f} | {r['seconds']} |"
            for r in result["single"]
        ],
        "",
        f"## Against exact GED ({ex['pairs']} random pairs, {ex['nodes']} nodes, 3 op labels)",
        "",
        "| method | below exact | equal to exact | mean ratio | max ratio |",
        "|---|---|---|---|---|",
        *[
            f"| {k} | {ex[k]['below_exact']} | {ex[k]['equal']} | {ex[k]['mean_ratio']} |"
            f" {ex[k]['max_ratio']} |"
            for k in ("rb", "default")
        ],
        "",
        f"## Raw zoo graph vs its node-deleted copies ({result['copies']} seeds,"
        f" {result['frac']:.0%})",
        "",
        "The exact GED of such a pair is the number of deleted nodes plus their edges.",
        "",
        "| method | pairs | at exact | mean excess | max excess | seconds |",
        "|---|---|---|---|---|---|",
        *[
            f"| {k} | {de[k]['pairs']} | {de[k]['at_exact']} | {de[k]['mean_excess']} |"
            f" {de[k]['max_excess']:.0f} | {de[k]['seconds']} |"
            for k in ("rb", "default")
        ],
        "",
    ]
    (out_dir / "bench_ged.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--zoo-cache", default=None, help="zoo cache dir (default: hnn's cache)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes for all pairs")
    p.add_argument("--copies", type=int, default=10, help="node-deleted copies per model")
    p.add_argument("--frac", type=float, default=0.1, help="fraction of nodes deleted")
    p.add_argument("--cache", default=None, help="GED cache file (default: a fresh temp file)")
    p.add_argument("--mp-context", default="spawn", choices=["spawn", "fork", "forkserver"])
    p.add_argument("--exact-pairs", type=int, default=30, help="random pairs vs exact GED")
    p.add_argument("--rb-sample", type=int, default=500, help="pairs to compare with plain RB")
    p.add_argument("--repeats", type=int, default=3, help="repeats of each single-pair time")
    p.add_argument("--out-dir", default="docs", help="where bench_ged.{json,md} go")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)

    from hnnframe.data.zoo import load_zoo

    load_start = os.getloadavg()[0]
    raw = [(e.name, g) for e, g in load_zoo(args.zoo_cache)]
    zoo = dict(raw)
    command = bench_command(__file__, argv)
    print("single pairs")
    single = bench_single(zoo, args.repeats)
    print("against exact")
    exact = bench_exact(args.exact_pairs, seed=0)
    print(f"  {exact}")
    print("node-deleted copies")
    deletion = bench_deletion(raw, args.copies, args.frac)
    print("all pairs of the augmented zoo")
    graphs = augmented_zoo(raw, args.copies, args.frac)
    all_pairs = bench_all_pairs(graphs, args)
    print(f"  {all_pairs}")
    result = {
        "command": command.strip(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_average_1min": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "copies": args.copies,
        "frac": args.frac,
        "single": single,
        "exact": exact,
        "deletion": deletion,
        "all_pairs": all_pairs,
    }
    write_report(result, Path(args.out_dir), command.strip())
    print(f"wrote {args.out_dir}/bench_ged.json and {args.out_dir}/bench_ged.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
