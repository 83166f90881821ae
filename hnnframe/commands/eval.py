"""``hnn eval``: retrieval metrics of a checkpoint on both protocols, beside the WL baseline;
``--suite robustness`` and ``--suite hub`` run the suites of :mod:`hnnframe.commands.eval_suites`.

Each suite reads typed options (``ProtocolOptions``, ``RobustnessOptions``, ``HubOptions``)
built once from the parsed arguments, so a caller outside the CLI builds the dataclass instead
of an ``argparse.Namespace`` with the right attributes."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from hnnframe.commands.eval_suites import (
    HubOptions,
    RobustnessOptions,
    add_hub_arguments,
    add_suite_arguments,
    run_hub_suite,
    run_robustness,
)
from hnnframe.commands.options import (
    add_cache_option,
    add_checkpoint_option,
    add_json_option,
    add_overrides_argument,
)
from hnnframe.commands.output import print_json
from hnnframe.recipe import apply_overrides


@dataclass(frozen=True)
class ProtocolOptions:
    """``hnn eval`` (protocols a and b): one checkpoint beside the WL SimHash baseline."""

    checkpoint: str
    overrides: list[str]
    zoo_cache: str | None
    k: int
    radius: int
    baseline: bool
    json: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ProtocolOptions:
        return cls(
            args.checkpoint,
            list(args.overrides),
            args.zoo_cache,
            args.k,
            args.radius,
            not args.no_baseline,
            args.json,
        )


def cmd_eval(args: argparse.Namespace) -> int:
    if args.suite == "robustness":
        return run_robustness(RobustnessOptions.from_args(args))
    if args.suite == "hub":
        return run_hub_suite(HubOptions.from_args(args))
    return run_protocols(ProtocolOptions.from_args(args))


def run_protocols(opts: ProtocolOptions) -> int:
    from hnnframe.baselines import WLSimHash
    from hnnframe.data.dataset import build_dataset
    from hnnframe.evaluate import evaluate_protocols
    from hnnframe.hashing import Hasher

    hasher = Hasher.from_checkpoint(opts.checkpoint)
    recipe = apply_overrides(hasher.recipe, opts.overrides)
    if opts.zoo_cache:
        recipe.setdefault("data", {})["cache_dir"] = opts.zoo_cache
    ds = build_dataset(recipe)
    rows: list[dict[str, Any]] = []
    coders = {recipe.get("name", "hnn"): hasher.hash_graphs}
    if opts.baseline:
        coders["wl_simhash"] = WLSimHash(bits=hasher.bits).codes
    for method, coder in coders.items():
        results = evaluate_protocols(coder, ds, k=opts.k, radius=opts.radius)
        for protocol, res in results.items():
            rows.append(
                {"method": method, "protocol": protocol, "bits": hasher.bits, **res.as_dict()}
            )
    if opts.json:
        print_json(rows)
        return 0
    k = opts.k
    print(
        f"queries: protocol a = {len(ds.test)} test copies, b = {len(ds.unseen)} unseen copies; "
        f"database = {len(ds.database)} training copies; Q = {hasher.bits}; top-{k}"
    )
    print(f"{'method':<18} {'prot':<5} {'P@k':>6} {'R@k':>6} {'F1@k':>6} {'mAP':>6} {'P@r2':>6}")
    for r in rows:
        print(
            f"{r['method']:<18} {r['protocol']:<5} {r[f'precision@{k}']:>6.3f} {r[f'recall@{k}']:>6.3f} "
            f"{r[f'f1@{k}']:>6.3f} {r['mAP']:>6.3f} {r['precision@r2']:>6.3f}"
        )
    if not ds.unseen:
        print("(protocol b needs a checkpoint trained with data.holdout set)")
    return 0


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
    add_overrides_argument(e, "data.seed=1", " for the dataset")
    add_checkpoint_option(e, "model.pt written by hnn train", required=True)
    e.add_argument(
        "-k", "--k", type=int, default=10, help="cutoff for precision/recall/F1 (default 10)"
    )
    e.add_argument(
        "--radius", type=int, default=2, help="Hamming radius for precision@r (default 2)"
    )
    add_cache_option(e, "zoo")
    e.add_argument("--no-baseline", action="store_true", help="skip the WL SimHash baseline")
    e.add_argument(
        "--suite",
        choices=["protocols", "robustness", "hub"],
        default="protocols",
        help="protocols: retrieval on protocols a/b (default); robustness: re-exported, folded, "
        "simplified and quantized variants of every zoo model against the zoo; hub: protocol "
        "(c), copies of held-out families' architectures against the hub corpus",
    )
    add_json_option(e)
    add_suite_arguments(e)
    add_hub_arguments(e)
    e.set_defaults(func=cmd_eval)
