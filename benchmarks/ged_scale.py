"""Compare GED normalisations and caps R for the topology loss (paper eq. 7).

Trains the same recipe with several ``loss.topo`` settings, holding five architectures out of
training (one per multi-model category), and reports retrieval on the augmented test copies of
the training architectures (protocol (a)) and on the copies of the held-out ones (unseen
architectures, category relevance). Writes docs/ged_scale.md with this command line on top.

Usage: python benchmarks/ged_scale.py [--epochs 60] [--zoo-cache DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOLDOUT = ["resnet34", "vgg13", "densenet161", "mnasnet1_0", "shufflenet_v2_x1_5"]
VARIANTS = {
    "raw GED, R=10 (paper recipe)": {"ged_norm": "none", "scale": 1.0, "cap": 10.0},
    "raw GED, R=100": {"ged_norm": "none", "scale": 1.0, "cap": 100.0},
    "nGED (mean size), R=2": {"ged_norm": "mean_size", "scale": 1.0, "cap": 2.0},
    "nGED x10 (mean size), R=20": {"ged_norm": "mean_size", "scale": 10.0, "cap": 20.0},
    "no topology loss (alpha=0)": None,
}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--recipe", default="hnn_net")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--zoo-cache", default=None)
    ap.add_argument("--out", default="runs/ged_scale")
    ap.add_argument("--report", default=str(ROOT / "docs" / "ged_scale.md"))
    args = ap.parse_args()

    from hnnframe.data.dataset import build_dataset
    from hnnframe.recipe import load_recipe
    from hnnframe.train import Trainer

    base = [f"train.epochs={args.epochs}", f"data.holdout={HOLDOUT}"]
    rows = []
    ds = None
    for k, (label, topo) in enumerate(VARIANTS.items()):
        ov = list(base)
        if topo is None:
            ov.append("loss.alpha=0")
        else:
            ov += [f"loss.topo.{key}={val}" for key, val in topo.items()]
        recipe = load_recipe(args.recipe, ov, args.zoo_cache)
        ds = ds or build_dataset(recipe)
        fin = Trainer(recipe, f"{args.out}/v{k}", progress=True, dataset=ds).fit()["final"]
        rows.append((label, fin))
        print(
            label,
            {key: round(v, 3) for key, v in fin.items() if "mAP" in key or "precision@10" in key},
        )
    command = "python benchmarks/ged_scale.py " + " ".join(sys.argv[1:])
    lines = [
        "# GED scale for the topology loss",
        "",
        f"Produced by `{command}`: recipe `{args.recipe}`, {args.epochs} epochs, Q=32, held out of "
        f"training: {', '.join(HOLDOUT)}.",
        "",
        "| topology target | (a) precision@10 | (a) mAP | unseen precision@10 | unseen mAP |",
        "|---|---|---|---|---|",
        *[
            f"| {label} | {f['val/precision@10']:.3f} | {f['val/mAP']:.3f} | "
            f"{f['unseen/precision@10']:.3f} | {f['unseen/mAP']:.3f} |"
            for label, f in rows
        ],
        "",
    ]
    Path(args.report).write_text("\n".join(lines))
    print(f"wrote {args.report}")


if __name__ == "__main__":
    main()
