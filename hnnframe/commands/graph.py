"""``hnn graph``: a model's operator graph summary (Stage 1, paper section 3.2)."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from hnnframe.commands.limit_options import add_limit_options
from hnnframe.commands.options import add_json_option
from hnnframe.commands.output import print_json, report_failures
from hnnframe.errors import HnnError
from hnnframe.presets import DEFAULT_RULES, PAPER_RULES
from hnnframe.recipe import load_recipe

_OVERRIDE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*=")


def _passes(args: argparse.Namespace, overrides: list[str]) -> tuple[list[Any], list[Any]]:
    """The merge rules and canonicalisation passes that the options and recipe name."""
    merge: list[Any] = []
    canonical: list[Any] = []
    if args.recipe:
        recipe = load_recipe(args.recipe, overrides)
        merge = list(recipe.get("graph", {}).get("merge", []) or [])
        canonical = list(recipe.get("graph", {}).get("canonical", []) or [])
    if args.merge is not None:
        named = {"default": DEFAULT_RULES, "paper": PAPER_RULES, "none": []}
        merge = []
        for part in (p.strip() for p in args.merge.split(",") if p.strip()):
            merge += named.get(part, [part])
    if args.canonical is not None:
        canonical = [p.strip() for p in args.canonical.split(",") if p.strip()]
    return merge, canonical


def _print_text(
    model: str, graph: Any, counts: dict[str, int], graphml: str | None, unknown: int = 0
) -> None:
    print(f"model    {model}")
    print(f"nodes    {graph.num_nodes:,}")
    print(f"edges    {graph.num_edges:,}")
    print(f"params   {graph.total_params:,}")
    note = f"; {unknown:,} nodes unknown, the total is a lower bound" if unknown else ""
    print(f"flops    {graph.total_flops:,}  (1 multiply-add = 2 FLOPs{note})")
    print("ops      " + ", ".join(f"{k} {v}" for k, v in graph.op_histogram().items()))
    if counts:
        print("merges   " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if graphml:
        print(f"graphml  {graphml}")


def cmd_graph(args: argparse.Namespace) -> int:
    from hnnframe.pipeline import check_names, graph_and_counts, graph_of

    # Positionals are models and recipe overrides (dotted.key=value); a model spec such as
    # hf:bert:num_hidden_layers=2 has a scheme first, so it is never read as an override.
    models = [m for m in args.items if not _OVERRIDE.match(m)]
    overrides = [m for m in args.items if _OVERRIDE.match(m)] + list(args.overrides or [])
    if not models:
        raise HnnError("hnn graph needs at least one model")
    if args.graphml and len(models) > 1:
        raise HnnError("--graphml writes one graph: give one model")
    merge, canonical = _passes(args, overrides)
    check_names(merge, canonical)  # a typo fails once, before any export
    rows: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    for k, model in enumerate(models):
        try:
            # Unknown FLOPs are counted on the raw graph: passes and merges sum FLOPs.
            raw = graph_of(model, trust_pickle=args.trust_pickle)
            graph, counts = graph_and_counts(raw, merge=merge, canonical=canonical)
        except HnnError as e:
            msg = str(e) if str(e).startswith(model) else f"{model}: {e}"
            failures.append({"model": model, "error": msg})
            rows.append(failures[-1])
            continue
        if args.graphml:
            import networkx as nx

            nx.write_graphml(graph.to_networkx(), args.graphml)
        unknown = raw.unknown_flops
        row = {**graph.summary(), "flops_unknown_nodes": unknown, "merge_matches": counts}
        rows.append({**row, "model": model})
        if not args.json:
            if k:
                print()
            _print_text(model, graph, counts, args.graphml, unknown)
    if args.json:
        print_json(rows[0] if len(models) == 1 else rows)
    if len(models) == 1 and failures:
        raise HnnError(failures[0]["error"])  # one line, exit 2, as for any bad input
    return report_failures(failures, file=sys.stderr)


def register(sub: Any) -> None:
    g = sub.add_parser(
        "graph",
        help="print a model's operator graph summary (Stage 1)",
        description="Convert models to their operator graphs (ONNX -> OpGraph -> "
        "canonicalisation -> merge rules) and print nodes, edges, op histogram, total FLOPs "
        "and parameters, and merges per rule. FLOPs that cannot be computed (shapes lost "
        "with an ONNX file's absent data, ops without a FLOP rule) are counted as unknown "
        "nodes. With several models, every one is processed; a model that cannot be read is "
        "named on stderr and the exit status is 1.",
    )
    g.add_argument(
        "items",
        nargs="+",
        metavar="MODEL",
        help="an .onnx file, a TorchScript file, torchvision:NAME, timm:NAME, "
        "hf:MODEL_TYPE[:tiny|:key=value,...], or a transformers config.json or snapshot "
        "directory (several allowed); key=value arguments are recipe overrides",
    )
    g.add_argument(
        "--merge",
        metavar="RULES",
        help="comma-separated merge rules in order; 'paper', 'default' and 'none' name sets",
    )
    g.add_argument("--canonical", metavar="PASSES", help="comma-separated canonicalisation passes")
    g.add_argument("--recipe", help="take merge rules and passes from a recipe YAML")
    g.add_argument("--graphml", metavar="OUT", help="also write the graph as GraphML")
    add_json_option(
        g,
        "print JSON instead of text (an object for one model, a list for several; a "
        "model that failed has 'error'; flops_unknown_nodes counts nodes without FLOPs)",
    )
    g.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow a pickled torch.save(model) file (loading it runs code from the file)",
    )
    add_limit_options(g)
    g.set_defaults(func=cmd_graph, overrides=[])
