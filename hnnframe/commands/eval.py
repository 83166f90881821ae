"""``hnn eval``: retrieval metrics of a checkpoint on both protocols, beside the WL baseline."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def cmd_eval(args: argparse.Namespace) -> int:
    if args.suite == "robustness":
        from hnnframe.robustness import cmd_robustness

        return cmd_robustness(args)
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
        json.dump(rows, sys.stdout, indent=1)
        print()
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


def add_suite_arguments(p: Any) -> None:
    """The robustness suite's own options, shared by ``hnn eval`` and
    ``python -m hnnframe.robustness`` (argparse only: ``hnn`` start-up stays cheap)."""
    g = p.add_argument_group("robustness suite (--suite robustness)")
    g.add_argument("--compare", action="append", metavar="CKPT",
                   help="another checkpoint to report side by side (repeatable)")  # fmt: skip
    g.add_argument("--transforms", default="all",
                   help="listed, unlisted, all (default) or a comma-separated list")  # fmt: skip
    g.add_argument("--models", type=lambda s: [m for m in s.split(",") if m],
                   help="comma-separated zoo models for the database (default all of Table 1)")  # fmt: skip
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
        choices=["protocols", "robustness"],
        default="protocols",
        help="protocols: retrieval on protocols a/b (default); robustness: re-exported, folded, "
        "simplified and quantized variants of every zoo model against the zoo",
    )
    e.add_argument("--json", action="store_true")
    add_suite_arguments(e)
    e.set_defaults(func=cmd_eval)
