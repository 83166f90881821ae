"""The ``hnn`` command: a thin layer over the Python API.

Errors a user can cause (bad file, unknown name, wrong Q) print one line on stderr and exit
with status 2; there is no traceback unless ``HNN_DEBUG=1`` is set.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from hnnframe.commands import print_json as _print_json
from hnnframe.errors import HnnError
from hnnframe.log import setup_logging

Handler = Callable[[argparse.Namespace], int]


def _fmt_int(x: int) -> str:
    return f"{x:,}"


# -- hnn graph ------------------------------------------------------------------------------------
def cmd_graph(args: argparse.Namespace) -> int:
    from hnnframe.pipeline import graph_and_counts

    merge: list[Any] = []
    canonical: list[Any] = []
    if args.recipe:
        from hnnframe.recipe import load_recipe

        recipe = load_recipe(args.recipe, args.overrides or [])
        merge = list(recipe.get("graph", {}).get("merge", []) or [])
        canonical = list(recipe.get("graph", {}).get("canonical", []) or [])
    if args.merge is not None:
        from hnnframe.merge import DEFAULT_RULES, PAPER_RULES

        named = {"default": DEFAULT_RULES, "paper": PAPER_RULES, "none": []}
        merge = []
        for part in (p.strip() for p in args.merge.split(",") if p.strip()):
            merge += named.get(part, [part])
    if args.canonical is not None:
        canonical = [p.strip() for p in args.canonical.split(",") if p.strip()]
    graph, counts = graph_and_counts(
        args.model, merge=merge, canonical=canonical, trust_pickle=args.trust_pickle
    )
    if args.graphml:
        import networkx as nx

        nx.write_graphml(graph.to_networkx(), args.graphml)
    summary = {**graph.summary(), "merge_matches": counts, "model": args.model}
    if args.json:
        _print_json(summary)
        return 0
    print(f"model    {args.model}")
    print(f"nodes    {_fmt_int(graph.num_nodes)}")
    print(f"edges    {_fmt_int(graph.num_edges)}")
    print(f"params   {_fmt_int(graph.total_params)}")
    print(f"flops    {_fmt_int(graph.total_flops)}  (1 multiply-add = 2 FLOPs)")
    print("ops      " + ", ".join(f"{k} {v}" for k, v in graph.op_histogram().items()))
    if counts:
        print("merges   " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if args.graphml:
        print(f"graphml  {args.graphml}")
    return 0


# -- hnn zoo ----------------------------------------------------------------------------------------
def cmd_zoo_build(args: argparse.Namespace) -> int:
    import time

    from hnnframe.data.zoo import build_zoo, load_zoo

    t0 = time.perf_counter()
    out = build_zoo(args.cache, jobs=args.jobs, force=args.force, progress=not args.json)
    zoo = load_zoo(args.cache)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    rows = [
        {"name": e.name, "category": e.category, "nodes": g.num_nodes, "edges": g.num_edges,
         "params": g.total_params, "flops": g.total_flops}
        for e, g in zoo
    ]  # fmt: skip
    result = {"cache": str(out), "models": rows, "bytes": size, "seconds": time.perf_counter() - t0}
    if args.json:
        _print_json(result)
        return 0
    print(f"{'model':<20} {'category':<11} {'nodes':>6} {'params':>12} {'GFLOPs':>8}")
    for r in rows:
        print(f"{r['name']:<20} {r['category']:<11} {r['nodes']:>6} {r['params']:>12,} "
              f"{r['flops'] / 1e9:>8.2f}")  # fmt: skip
    print(f"{len(rows)} models in {out} ({size / 1e6:.1f} MB) in {result['seconds']:.0f} s")
    return 0


# -- hnn list ---------------------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    from hnnframe.registry import all_registries

    regs = {k: r.names() for k, r in all_registries().items()}
    if args.json:
        _print_json(regs)
        return 0
    for k, names in regs.items():
        print(f"{k:<15} {', '.join(names)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hnn",
        description="Perceptual hashes of neural networks (HNN-Net). Turn models into operator "
        "graphs, train a graph hashing network, hash models and search a hash index.",
    )
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    g = sub.add_parser(
        "graph",
        help="print a model's operator graph summary (Stage 1)",
        description="Convert a model to its operator graph (ONNX -> OpGraph -> merge rules) and "
        "print nodes, edges, op histogram, total FLOPs and parameters, and merges per rule.",
    )
    g.add_argument("model", help="an .onnx file, a TorchScript file, or torchvision:NAME")
    g.add_argument(
        "--merge",
        metavar="RULES",
        help="comma-separated merge rules in order; 'paper', 'default' and 'none' name sets",
    )
    g.add_argument("--canonical", metavar="PASSES", help="comma-separated canonicalisation passes")
    g.add_argument("--recipe", help="take merge rules and passes from a recipe YAML")
    g.add_argument("overrides", nargs="*", help="recipe overrides key=value")
    g.add_argument("--graphml", metavar="OUT", help="also write the graph as GraphML")
    g.add_argument("--json", action="store_true", help="print JSON instead of text")
    g.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow a pickled torch.save(model) file (loading it runs code from the file)",
    )
    g.set_defaults(func=cmd_graph)

    z = sub.add_parser("zoo", help="the Table-1 model zoo", description="Manage the model zoo.")
    zsub = z.add_subparsers(dest="zoo_command", metavar="ZOO_COMMAND", required=True)
    zb = zsub.add_parser(
        "build",
        help="export the 21 Table-1 torchvision models and cache their graphs",
        description="Export the paper's Table-1 models with weights=None, strip weights, and "
        "cache their ONNX structure and raw graphs (a few MB). Cached models are skipped.",
    )
    zb.add_argument(
        "--cache", help="cache directory (default $HNN_CACHE_DIR/zoo or ~/.cache/hnnframe/zoo)"
    )
    zb.add_argument(
        "--jobs", type=int, default=min(2, os.cpu_count() or 1), help="parallel exports"
    )
    zb.add_argument("--force", action="store_true", help="re-export models already cached")
    zb.add_argument("--json", action="store_true", help="print JSON instead of a table")
    zb.set_defaults(func=cmd_zoo_build)

    ls = sub.add_parser("list", help="list every registry's entries", description="List the "
                        "registered merge rules, encoders, backbones, poolings, losses, GED methods.")  # fmt: skip
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_list)

    # Each module in hnnframe/commands/ adds its subcommands through register(subparsers), so
    # features can add commands without touching this file. Imports there stay cheap.
    import importlib
    import pkgutil

    import hnnframe.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"hnnframe.commands.{info.name}").register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # key=value overrides may follow options (`hnn train R --out D hash.bits=64`), which
    # argparse's positional matching cannot see once an option has intervened.
    args, extra = parser.parse_known_args(argv)
    if extra:
        if isinstance(getattr(args, "overrides", None), list) and all(
            "=" in e and not e.startswith("-") for e in extra
        ):
            args.overrides += extra
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    setup_logging(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except HnnError as e:
        if os.environ.get("HNN_DEBUG"):
            raise
        print(f"hnn: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hnn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
