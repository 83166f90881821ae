"""``hnn reproduce table2|fig7|recipes``: the paper's experiments, and the recipe comparison
behind ``make demo``'s default, in one command each."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from hnnframe.commands import print_json

DEFAULT_DOCS = Path(__file__).resolve().parents[2] / "docs"


def cmd_reproduce(args: argparse.Namespace) -> int:
    from hnnframe import reproduce as rp

    command = args.command_line
    docs = Path(args.docs)
    docs.mkdir(parents=True, exist_ok=True)
    out = Path(args.out or f"runs/{args.experiment}")
    epochs = args.epochs
    t0 = time.perf_counter()
    if args.experiment == "table2":
        runs = rp.table2_runs(epochs)
        if args.smoke:
            runs = [r for r in runs if r.meta["bits"] == 32]
    elif args.experiment == "recipes":
        runs = rp.recipe_runs(epochs)
    else:
        runs = rp.fig7_runs(epochs)
    if args.smoke:
        runs = runs[:2]
    results = rp.run_all(runs, out, jobs=args.jobs, zoo_cache=args.zoo_cache, ged_cache=args.ged_cache,
                         progress=not args.json)  # fmt: skip
    ep = results[0]["epochs"] if results else (epochs or 0)
    if args.experiment == "table2":
        text = rp.table2_markdown(results, command, ep, rp.perfect_ranking_bounds(args.zoo_cache))
        text += rp.wall_clock_line(results, time.perf_counter() - t0) + "\n"
        if not args.smoke:
            paths = rp.plot_table2(results, docs)
            text += "\n" + "\n".join(f"![{p.stem}]({p.name})" for p in paths) + "\n"
    elif args.experiment == "recipes":
        text = rp.recipes_markdown(results, command, ep, rp.perfect_ranking_bounds(args.zoo_cache))
    else:
        text = rp.fig7_markdown_and_plot(results, command, docs, ep)
    rp.write_block(docs / "results.md", args.experiment, text)
    if args.json:
        print_json(results)
    else:
        print(f"wrote {docs / 'results.md'} ({len(results)} runs in {out})")
    return 0


def register(sub: Any) -> None:
    r = sub.add_parser(
        "reproduce",
        help="reproduce Table 2, Figure 7 or the recipe comparison and write docs/results.md",
        description="table2: GHashing, HNN-Net w/o L_class and HNN-Net on raw and merged data at "
        "Q=16/32/64 (protocol a, 18 runs) and at Q=32 with five architectures held out "
        "(protocol b, 6 runs), beside the WL SimHash baseline; writes docs/results.md and "
        "docs/fig5.png, fig6.png. fig7: beta and gamma sweeps at Q=32 on raw data; writes "
        "docs/fig7.png. recipes: the candidate recipes for `make demo` at Q=32 on merged data, "
        "three training seeds, both protocols. Finished runs are kept in OUT/<run>/result.json "
        "and skipped on rerun.",
    )
    r.add_argument("experiment", choices=["table2", "fig7", "recipes"])
    r.add_argument(
        "--epochs", type=int, default=None, help="epochs per run (default: the recipe's 200)"
    )
    r.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="parallel runs")
    r.add_argument("--out", help="run directory (default runs/EXPERIMENT)")
    r.add_argument("--docs", default=str(DEFAULT_DOCS), help="where results.md and figures go")
    r.add_argument("--zoo-cache", help="zoo cache directory")
    r.add_argument("--ged-cache", help="GED cache file (default ~/.cache/hnnframe/ged.sqlite)")
    r.add_argument("--smoke", action="store_true", help="only two runs (for tests)")
    r.add_argument("--json", action="store_true", help="print the run results as JSON")
    r.set_defaults(func=cmd_reproduce)
