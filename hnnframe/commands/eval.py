"""``hnn eval``: retrieval metrics of a checkpoint on both protocols, beside the WL baseline,
and the robustness suite (:mod:`hnnframe.robustness`) with ``--suite robustness``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hnnframe.commands.output import print_json
from hnnframe.errors import HnnError


def cmd_eval(args: argparse.Namespace) -> int:
    if args.suite == "robustness":
        return cmd_robustness(args)
    if args.suite == "hub":
        return cmd_hub(args)
    from hnnframe.baselines import WLSimHash
    from hnnframe.data.dataset import build_dataset
    from hnnframe.evaluate import evaluate_protocols
    from hnnframe.hashing import Hasher
    from hnnframe.recipe import apply_overrides

    hasher = Hasher.from_checkpoint(args.checkpoint)
    recipe = apply_overrides(hasher.recipe, args.overrides)
    if args.zoo_cache:
        recipe.setdefault("data", {})["cache_dir"] = args.zoo_cache
    ds = build_dataset(recipe)
    rows: list[dict[str, Any]] = []
    coders = {recipe.get("name", "hnn"): hasher.hash_graphs}
    if not args.no_baseline:
        coders["wl_simhash"] = WLSimHash(bits=hasher.bits).codes
    for method, coder in coders.items():
        for protocol, res in evaluate_protocols(coder, ds, k=args.k, radius=args.radius).items():
            rows.append(
                {"method": method, "protocol": protocol, "bits": hasher.bits, **res.as_dict()}
            )
    if args.json:
        print_json(rows)
        return 0
    k = args.k
    print(f"queries: protocol a = {len(ds.test)} test copies, b = {len(ds.unseen)} unseen copies; "
          f"database = {len(ds.database)} training copies; Q = {hasher.bits}; top-{k}")  # fmt: skip
    print(f"{'method':<18} {'prot':<5} {'P@k':>6} {'R@k':>6} {'F1@k':>6} {'mAP':>6} {'P@r2':>6}")
    for r in rows:
        print(f"{r['method']:<18} {r['protocol']:<5} {r[f'precision@{k}']:>6.3f} {r[f'recall@{k}']:>6.3f} "
              f"{r[f'f1@{k}']:>6.3f} {r['mAP']:>6.3f} {r['precision@r2']:>6.3f}")  # fmt: skip
    if not ds.unseen:
        print("(protocol b needs a checkpoint trained with data.holdout set)")
    return 0


# -- protocol (c) ------------------------------------------------------------------------------
def cmd_hub(args: argparse.Namespace) -> int:
    """``hnn eval --suite hub``: protocol (c) for the checkpoint(s) beside the WL baselines."""
    from hnnframe.hashing import Hasher
    from hnnframe.protocol_c.report import hub_markdown
    from hnnframe.reproduce import provenance
    from hnnframe.reproduce.hub import run_hub

    ckpts = [args.checkpoint, *(getattr(args, "compare", None) or [])]
    labels = []
    for path in ckpts:
        h = Hasher.from_checkpoint(path)
        labels.append((f"{h.recipe.get('name', 'hnn')} ({Path(path).parent.name})", path))
    bits = sorted({Hasher.from_checkpoint(p).bits for p in ckpts})
    res = run_hub(args.hub_out, [], corpus_cache=args.corpus_cache,
                  variant_cache=getattr(args, "variant_cache", None), zoo_cache=args.zoo_cache,
                  queries_per_group=args.queries_per_group or None,
                  deletion_copies=args.deletion_copies, wl_bits=bits, checkpoints=labels,
                  progress=not args.json)  # fmt: skip
    if args.json:
        print_json(res)
        return 0
    print(hub_markdown(res["rows"], provenance_line=provenance(args.command_line),
                       corpus=res["corpus"], split=res["split"], queries=res["queries"]))  # fmt: skip
    return 0


# -- the robustness suite ---------------------------------------------------------------
def print_table(label: str, bits: int, rows: list[dict[str, Any]]) -> None:
    from hnnframe.robustness import fmt_cell, goal_met

    print(f"{label}  (Q = {bits})")
    print(f"{'transform':<16} {'listed':<6} {'n':>3} {'fail':>4} {'med d':>6} {'mean d':>6} "
          f"{'max d':>5} {'d=0':>5} {'NN own':>6} {'NN cat':>6} {'class':>6} {'same G':>6} goal")  # fmt: skip
    for r in rows:
        goal = goal_met(r, bits, rows)
        mean = "-" if r["hamming_mean"] is None else f"{r['hamming_mean']:.2f}"
        print(f"{r['transform']:<16} {'yes' if r['listed'] else 'no':<6} {r['models']:>3} "
              f"{r['failed']:>4} {fmt_cell(r['hamming_median']):>6} {mean:>6} "
              f"{fmt_cell(r['hamming_max']):>5} {fmt_cell(r['hamming_zero'], True):>5} "
              f"{fmt_cell(r['nn_own'], True):>6} {fmt_cell(r['nn_category'], True):>6} "
              f"{fmt_cell(r['class_ok'], True):>6} {fmt_cell(r['same_graph'], True):>6} "
              f"{'-' if goal is None else ('met' if goal else 'MISSED')}")  # fmt: skip


def cmd_robustness(args: argparse.Namespace) -> int:
    """``hnn eval --suite robustness``: the suite for one or more checkpoints.

    Reads from ``args``: ``checkpoint`` (a path or a list), ``zoo_cache``, ``json``, ``k``,
    ``radius`` and, when present, ``compare`` (more checkpoints), ``transforms``, ``models``,
    ``variant_cache``, ``corpus``, ``corpus_cache``, ``holdout_only``, ``protocols``,
    ``write_results``, ``section``,
    ``title`` and ``command_line`` (the command named in the results block, set by
    :func:`hnnframe.cli.main`).
    """
    from hnnframe.hashing import Hasher
    from hnnframe.robustness import markdown_section, protocol_rows, robustness_suite, write_results

    ckpts = args.checkpoint if isinstance(args.checkpoint, list) else [args.checkpoint]
    ckpts = [*ckpts, *(getattr(args, "compare", None) or [])]
    transforms = getattr(args, "transforms", None)
    results = []
    protocols: dict[str, list[dict[str, Any]]] = {}
    for path in ckpts:
        hasher = Hasher.from_checkpoint(path)
        label = f"{hasher.recipe.get('name', 'hnn')} ({Path(path).parent.name})"
        queries = None
        if getattr(args, "holdout_only", False):
            queries = list(hasher.recipe.get("data", {}).get("holdout") or [])
            if not queries:
                raise HnnError(f"{path}: --holdout-only needs a checkpoint trained with "
                               "data.holdout")  # fmt: skip
        rows = robustness_suite(
            hasher,
            transforms,
            args.zoo_cache,
            variant_cache=getattr(args, "variant_cache", None),
            query_models=queries,
            models=getattr(args, "models", None),
            progress=not args.json,
            corpus=getattr(args, "corpus", False),
            corpus_cache=getattr(args, "corpus_cache", None),
        )
        results.append({"checkpoint": str(path), "label": label, "bits": hasher.bits,
                        "recipe": hasher.recipe.get("name", ""),
                        "fingerprint": hasher.fingerprint, "rows": rows})  # fmt: skip
        if getattr(args, "protocols", False):
            protocols[label] = protocol_rows(hasher, args.k, args.radius, args.zoo_cache)
    if args.json:
        print_json({"results": results, "protocols": protocols})
    else:
        for res in results:
            print_table(f"{res['label']}: {res['checkpoint']}", res["bits"], res["rows"])
            for p in protocols.get(res["label"], []):
                print(f"  protocol {p['protocol']}: mAP {p['mAP']:.3f}  "
                      f"P@{args.k} {p[f'precision@{args.k}']:.3f}")  # fmt: skip
            print()
    out = getattr(args, "write_results", None)
    if out:
        title = getattr(args, "title", None) or (
            "Held-out architectures"
            if getattr(args, "holdout_only", False)
            else "Hub corpus"
            if getattr(args, "corpus", False)
            else "All zoo models"
        )
        notes = [getattr(args, "note", None) or ""]
        if getattr(args, "holdout_only", False):
            notes.append(
                "Queries: variants of the architectures that the checkpoints were trained "
                "without (data.holdout); neither they nor their variants were seen in "
                "training. The database is the whole zoo."
            )
        note = " ".join(n for n in notes if n)
        command = args.command_line
        text = markdown_section(results, command, title, note, protocols, args.k)
        write_results(out, getattr(args, "section", None) or "main", text)
        if not args.json:
            print(f"wrote the robustness section {getattr(args, 'section', None) or 'main'!r} "
                  f"of {out}")  # fmt: skip
    return 0


def add_suite_arguments(p: Any) -> None:
    """The robustness suite's own options of ``hnn eval``."""
    g = p.add_argument_group("robustness suite (--suite robustness)")
    g.add_argument("--compare", action="append", metavar="CKPT",
                   help="another checkpoint to report side by side (repeatable)")  # fmt: skip
    g.add_argument("--transforms", default="all",
                   help="listed, unlisted, all (default) or a comma-separated list")  # fmt: skip
    g.add_argument("--models", type=lambda s: [m for m in s.split(",") if m],
                   help="comma-separated zoo models for the database (default all of Table 1); "
                   "with --corpus, the corpus keys whose variants are queried (default all)")  # fmt: skip
    g.add_argument("--corpus", action="store_true",
                   help="the database is every architecture of the hub corpus (--corpus-cache) "
                   "instead of the zoo, the queries the variants of --models")  # fmt: skip
    g.add_argument("--variant-cache", help="variant cache (default ~/.cache/hnnframe/variants)")
    g.add_argument("--holdout-only", action="store_true",
                   help="query only the checkpoint's data.holdout architectures")  # fmt: skip
    g.add_argument("--protocols", action="store_true",
                   help="also report retrieval protocols (a) and (b)")  # fmt: skip
    g.add_argument("--write-results", metavar="MD", help="write a section of this markdown file")
    g.add_argument("--section", default="main", help="section name in the results block")
    g.add_argument("--title", help="section title")
    g.add_argument("--note", help="a paragraph for the section (how the checkpoints were made)")


def register(sub: Any) -> None:
    e = sub.add_parser(
        "eval",
        help="retrieval metrics of a checkpoint (protocols a and b) beside the WL baseline",
        description="Rebuild the checkpoint's dataset (same seed and split), hash the training "
        "copies as the database and the test copies (protocol a) and held-out architectures' "
        "copies (protocol b, when the recipe has data.holdout) as queries. The ranking is by "
        "Hamming distance, ties broken by embedding distance, then database order. Relevance "
        "is the same category.",
    )
    e.add_argument("overrides", nargs="*", help="recipe overrides key=value for the dataset")
    e.add_argument("--checkpoint", required=True)
    e.add_argument(
        "-k", "--k", type=int, default=10, help="cutoff for precision/recall/F1 (default 10)"
    )
    e.add_argument(
        "--radius", type=int, default=2, help="Hamming radius for precision@r (default 2)"
    )
    e.add_argument("--zoo-cache", help="zoo cache directory")
    e.add_argument("--no-baseline", action="store_true", help="skip the WL SimHash baseline")
    e.add_argument(
        "--suite",
        choices=["protocols", "robustness", "hub"],
        default="protocols",
        help="protocols: retrieval on protocols a/b (default); robustness: re-exported, folded, "
        "simplified and quantized variants of every zoo model against the zoo; hub: protocol "
        "(c), copies of held-out families' architectures against the hub corpus",
    )
    e.add_argument("--json", action="store_true")
    add_suite_arguments(e)
    h = e.add_argument_group("protocol (c) (--suite hub)")
    h.add_argument("--corpus-cache", help="corpus cache (default ~/.cache/hnnframe/corpus)")
    h.add_argument("--hub-out", default="runs/hub-eval",
                   help="where evaluations are cached (default runs/hub-eval)")  # fmt: skip
    h.add_argument("--queries-per-group", type=int, default=2,
                   help="held-out architectures per group with tool-made copies (0: all)")  # fmt: skip
    h.add_argument("--deletion-copies", type=int, default=2,
                   help="node-deletion copies per held-out architecture")  # fmt: skip
    e.set_defaults(func=cmd_eval)
