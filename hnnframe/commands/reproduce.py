"""``hnn reproduce table2|fig7|recipes``: the paper's experiments, and the recipe comparison
behind ``make demo``'s default, in one command each."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from hnnframe import reproduce as rp
from hnnframe.commands.options import add_cache_option, add_jobs_option, add_json_option
from hnnframe.commands.output import print_json
from hnnframe.errors import ConfigError
from hnnframe.recipe import load_recipe
from hnnframe.reproduce import provenance, write_block
from hnnframe.reproduce.hub import HUB_BITS, HUB_RECIPES, hub_runs, run_hub

DEFAULT_DOCS = Path(__file__).resolve().parents[2] / "docs"


def _hub_runs(args: argparse.Namespace) -> tuple[list[Any], list[int]]:
    """The recipe runs of ``--recipes`` (none with ``--baselines-only``) and the Q values."""
    bits = [int(b) for b in args.bits.split(",")] if args.bits else list(HUB_BITS)
    chosen = None
    if args.recipes:
        names = args.recipes.split(",")
        valid = [r for r, _ in HUB_RECIPES.values()]
        unknown = [n for n in names if n not in valid]
        if unknown:
            raise ConfigError(f"--recipes: unknown hub recipe(s) {unknown}; valid: {valid}")
        chosen = {k: v for k, v in HUB_RECIPES.items() if v[0] in names}
    runs = [] if args.baselines_only else hub_runs(args.epochs, chosen, bits=bits)
    return runs, bits


def _hub_notes(args: argparse.Namespace, res: dict[str, Any]) -> list[str]:
    """The paragraphs under the protocol (c) table: the ceiling on unique codes, the training
    times, and the goal table of the recommended recipe."""
    from hnnframe.protocol_c.report import goal_table

    notes = [
        f"{100 * res['unique_ceiling']:.1f}% of the architectures have a "
        "canonical graph (ROBUST_PASSES) that no other architecture has: the rest are "
        "the same network under two names after canonicalisation (timm's and "
        "torchvision's efficientnet_b0, Llama and Mistral at one size), which no code "
        "of the canonical graph can tell apart."
    ]
    train = [r for r in res["rows"] if "train_seconds" in r and r.get("part", "all") == "all"]
    if train:
        notes.append(
            f"Training time per recipe run (2-core CPU; {args.jobs} runs train at a time and "
            "share the cores with each other and with anything else running, so these are "
            "upper bounds for a machine of one's own): "
            + ", ".join(
                f"{r['name']} Q={r['bits']} {r['train_seconds'] / 60:.1f} min ({r['epochs']} epochs)"
                for r in train
            )
        )
    recommended = next((k for k, (r, _) in HUB_RECIPES.items() if r == "hnn_hub"), "")
    table = goal_table(res["rows"], recommended, int(load_recipe("hnn_hub")["hash"]["bits"]))
    if table:
        notes.append("\n".join(table))
    return notes


def _derived_kinds(spec: str | None) -> list[str] | None:
    """``--derived``: None (every derived kind), ``none`` (none) or a comma-separated list."""
    if spec is None:
        return None
    if spec == "none":
        return []
    from hnnframe.variants import derived_transforms

    names = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [n for n in names if n not in derived_transforms()]
    if unknown:
        raise ConfigError(
            f"--derived: {unknown} are no derived architectures; valid: {derived_transforms()}"
        )
    return names


def cmd_reproduce_hub(args: argparse.Namespace, docs: Path, out: Path) -> int:
    from hnnframe.protocol_c.report import hub_markdown, plot_histograms

    runs, bits = _hub_runs(args)
    res = run_hub(
        out,
        runs,
        corpus_cache=args.corpus_cache,
        variant_cache=args.variant_cache,
        zoo_cache=args.zoo_cache,
        ged_cache=args.ged_cache,
        queries_per_group=args.queries_per_group or None,
        transforms=args.transforms.split(",") if args.transforms else None,
        derived=_derived_kinds(args.derived),
        deletion_copies=args.deletion_copies,
        wl_bits=bits,
        jobs=args.jobs,
        progress=not args.json,
    )
    plot = plot_histograms(res["rows"], docs / "hub_distances.png")
    text = hub_markdown(
        res["rows"],
        provenance_line=provenance(args.command_line),
        corpus=res["corpus"],
        split=res["split"],
        queries=res["queries"],
        notes=_hub_notes(args, res),
        plot=plot.name,
    )
    write_block(docs / "results.md", "hub", text)
    if args.json:
        print_json(res)
    else:
        print(
            f"wrote the protocol (c) block of {docs / 'results.md'} and {plot} "
            f"({len(res['rows'])} coders, {res['queries']['total']} queries)"
        )
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    command = args.command_line
    docs = Path(args.docs)
    docs.mkdir(parents=True, exist_ok=True)
    out = Path(args.out or f"runs/{args.experiment}")
    if args.experiment == "hub":
        return cmd_reproduce_hub(args, docs, out)
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
    results = rp.run_all(
        runs,
        out,
        jobs=args.jobs,
        zoo_cache=args.zoo_cache,
        ged_cache=args.ged_cache,
        progress=not args.json,
    )
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
        "three training seeds, both protocols. hub: protocol (c) on the hub corpus (`hnn corpus "
        "build` first): the WL SimHash baselines and every recipe trained on the training "
        "family groups at Q=32/64/128; writes docs/hub_distances.png. Finished runs are kept "
        "in OUT/<run>/result.json and skipped on rerun.",
    )
    r.add_argument("experiment", choices=["table2", "fig7", "recipes", "hub"])
    r.add_argument(
        "--epochs", type=int, default=None, help="epochs per run (default: the recipe's 200)"
    )
    add_jobs_option(r, "runs")
    r.add_argument("--out", help="run directory (default runs/EXPERIMENT)")
    r.add_argument("--docs", default=str(DEFAULT_DOCS), help="where results.md and figures go")
    add_cache_option(r, "zoo")
    add_cache_option(r, "ged")
    r.add_argument("--smoke", action="store_true", help="only two runs (for tests)")
    h = r.add_argument_group("hub (protocol c)")
    add_cache_option(h, "corpus")
    add_cache_option(h, "variant")
    h.add_argument(
        "--bits", help=f"comma-separated Q values (default {','.join(map(str, HUB_BITS))})"
    )
    h.add_argument(
        "--queries-per-group",
        type=int,
        default=2,
        help="held-out architectures per group that get tool-made copies (default 2; 0: all)",
    )
    h.add_argument(
        "--deletion-copies",
        type=int,
        default=2,
        help="node-deletion copies of every held-out architecture (default 2)",
    )
    h.add_argument(
        "--transforms",
        help="comma-separated transformations that make the "
        "tool-made copies (default every one of `hnn list`'s transforms that makes copies)",
    )
    h.add_argument(
        "--derived",
        help="comma-separated derived architectures (new_head, layer_drop, vocab_extended, "
        "width_pruned, adapter_unmerged) made of the same architectures and scored apart, by "
        "whether their source is nearest (default all; 'none': none)",
    )
    h.add_argument(
        "--recipes",
        help="comma-separated hub recipes to train and evaluate "
        "(default all: hnn_net,hnn_net_robust,hnn_hub); finished runs of the "
        "others are not reported",
    )
    h.add_argument(
        "--baselines-only",
        action="store_true",
        help="evaluate the WL baselines only, train nothing",
    )
    add_json_option(r, "print the run results as JSON")
    r.set_defaults(func=cmd_reproduce)
