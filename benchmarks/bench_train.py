"""Benchmark training on the augmented zoo: wall time, convergence, memory, and code quality.

Trains a recipe (default the paper's, recipes/hnn_net.yaml) on the zoo, then hashes every
augmented copy and reports:

* wall time for the pairwise GEDs and for training, and the epoch at which the training loss
  first came within 5% of its final value (convergence);
* peak RSS of the process;
* for each zoo model, whether its held-out augmented copies are on average nearer (Hamming) to
  the training copies of their own category than to those of any other category.

Figures go to docs/bench_train.md with this command line at the top.

Usage: python benchmarks/bench_train.py [--recipe hnn_net] [--zoo-cache DIR] [overrides ...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _common import command as bench_command
from _common import peak_rss_mb

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("overrides", nargs="*", help="recipe overrides key=value")
    ap.add_argument("--recipe", default="hnn_net")
    ap.add_argument("--zoo-cache", default=None)
    ap.add_argument("--out", default="runs/bench_train", help="run directory")
    ap.add_argument("--report", default=str(ROOT / "docs" / "bench_train.md"))
    args = ap.parse_args()

    import torch

    from hnnframe.codes import hamming_matrix
    from hnnframe.data.dataset import build_dataset
    from hnnframe.hashing import Hasher
    from hnnframe.recipe import load_recipe
    from hnnframe.train import Trainer

    torch.set_num_threads(2)
    recipe = load_recipe(args.recipe, args.overrides, args.zoo_cache)
    t0 = time.perf_counter()
    ds = build_dataset(recipe)
    t_data = time.perf_counter() - t0
    trainer = Trainer(recipe, args.out, progress=True, dataset=ds)
    t1 = time.perf_counter()
    summary = trainer.fit()
    t_total = time.perf_counter() - t1
    t_train = summary["seconds"]
    losses = [h["loss/total"] for h in trainer.history]
    final = losses[-1]
    tol = 0.05 * abs(final) + 1e-9
    converged = next(
        i + 1 for i, v in enumerate(losses) if all(abs(w - final) <= tol for w in losses[i:])
    )
    t_conv = t_train * converged / len(losses)

    hasher = Hasher.from_checkpoint(Path(args.out) / "model.pt")
    tr = hasher.hash_graphs([s.graph for s in ds.train])
    te = hasher.hash_graphs([s.graph for s in ds.test])
    ham = hamming_matrix(te["codes"], tr["codes"])
    cats = sorted({s.category for s in ds.train})
    tr_cat = np.array([s.category for s in ds.train])
    rows = []
    for model in sorted({s.model for s in ds.test}):
        idx = [i for i, s in enumerate(ds.test) if s.model == model]
        own = ds.test[idx[0]].category
        mean_by_cat = {c: float(ham[idx][:, tr_cat == c].mean()) for c in cats}
        other = min(v for c, v in mean_by_cat.items() if c != own)
        rows.append(
            {
                "model": model,
                "category": own,
                "own": mean_by_cat[own],
                "nearest_other": other,
                "nearer_own": mean_by_cat[own] < other,
            }
        )
    nearer = sum(r["nearer_own"] for r in rows)
    peak = peak_rss_mb()
    fin = summary["final"]
    result = {
        "dataset_seconds": t_data,
        "fit_seconds": t_total,
        "train_seconds": t_train,
        "converged_epoch": converged,
        "converged_seconds": t_conv,
        "epochs": len(losses),
        "peak_rss_mb": peak,
        "nearer_own": nearer,
        "models": len(rows),
        "final": fin,
    }
    print(json.dumps(result, indent=1, default=float))
    command = bench_command(__file__)
    k = recipe.get("train", {}).get("eval_k", 10)
    lines = [
        f"# Training on the augmented zoo ({recipe['name']}, Q={recipe['hash']['bits']})",
        "",
        f"Produced by `{command}` on a 2-core CPU machine.",
        "",
        "| measurement | value |",
        "|---|---|",
        f"| dataset (load, merge, augment) | {t_data:.1f} s |",
        f"| pairwise GED + encoding + training (`Trainer.fit`) | {t_total:.0f} s |",
        f"| training loop, {len(losses)} epochs | {t_train:.0f} s |",
        f"| converged (loss within 5% of final from then on) | epoch {converged}, {t_conv:.0f} s |",
        f"| peak RSS | {peak:.0f} MB |",
        f"| val precision@{k} / recall@{k} / mAP (protocol (a)) | {fin[f'val/precision@{k}']:.3f} / {fin[f'val/recall@{k}']:.3f} / {fin['val/mAP']:.3f} |",
        f"| models whose test copies are nearer their own category | {nearer} of {len(rows)} |",
        "",
        "Mean Hamming distance from each model's held-out copies to the training copies of its",
        "own category and of the nearest other category:",
        "",
        "| model | category | own | nearest other |",
        "|---|---|---|---|",
        *[
            f"| {r['model']} | {r['category']} | {r['own']:.2f} | {r['nearest_other']:.2f} |"
            for r in rows
        ],
        "",
    ]
    Path(args.report).write_text("\n".join(lines))
    print(f"wrote {args.report}")


if __name__ == "__main__":
    main()
