"""``hnn demo``: the main job end to end on a fresh machine (``make demo``).

1. builds the Table-1 zoo cache;
2. trains the recommended recipe at Q = 32 on merged data into runs/demo/model.pt;
3. prints a Table-2-style result (recall, precision, F1) for that run;
4. hashes a torchvision model that is not in the zoo (resnet50) and lists its nearest zoo
   models by Hamming distance.
"""

from __future__ import annotations

import argparse
from typing import Any

from hnnframe.commands.output import print_json

# The evaluation's choice (docs/results.md, `hnn reproduce recipes`): the robust recipe beats
# the paper's on both retrieval protocols at Q = 32 and keeps codes across re-exports.
RECOMMENDED = "hnn_net_robust"


def cmd_demo(args: argparse.Namespace) -> int:
    import numpy as np

    from hnnframe.codes import hamming
    from hnnframe.data.dataset import build_dataset
    from hnnframe.data.zoo import CATEGORY_OF, build_zoo, zoo_dir
    from hnnframe.evaluate import perfect_ranking
    from hnnframe.hashing import Hasher
    from hnnframe.recipe import load_recipe
    from hnnframe.train import Trainer

    quiet = args.json
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    say(f"[1/4] building the model zoo in {zoo_dir(args.zoo_cache)}")
    build_zoo(args.zoo_cache, progress=not quiet)
    overrides = ["hash.bits=32", *args.overrides]
    recipe = load_recipe(args.recipe, overrides, args.zoo_cache)
    say(f"[2/4] training {recipe['name']} (Q=32, merged data) -> {args.out}/model.pt")
    ds = build_dataset(recipe, progress=not quiet)
    summary = Trainer(recipe, args.out, progress=not quiet, dataset=ds).fit()
    fin = summary["final"]
    k = int(recipe.get("train", {}).get("eval_k", 10))
    best = perfect_ranking(ds, k=k)["a"].as_dict()
    say(f"[3/4] retrieval on held-out augmented copies (protocol (a), Q=32): top-{k} and the")
    say("      Hamming-radius-2 lookup; relevance = same category")
    say("")
    say(f"  {'':<16} {'recall':>8} {'precision':>10} {'F1':>8} {'mAP':>8} {'F1@r2':>8}")

    def row(label: str, m: dict[str, float], note: str = "") -> None:
        cells = [m.get(f"recall@{k}"), m.get(f"precision@{k}"), m.get(f"f1@{k}"), m.get("mAP"),
                 m.get("f1@r2")]  # fmt: skip
        text = " ".join(f"{'' if v is None else f'{v:.3f}':>{w}}" for v, w in
                        zip(cells, (8, 10, 8, 8, 8), strict=True))  # fmt: skip
        say(f"  {label:<16} {text}  {note}".rstrip())

    row(recipe["name"], {key[len("val/") :]: v for key, v in fin.items() if key.startswith("val/")})
    row("perfect ranking", best, f"(the ceiling of top-{k} with category relevance)")
    row("paper", {f"recall@{k}": 0.762, f"precision@{k}": 0.905, f"f1@{k}": 0.794},
        "(Table 2, merged, 32 bits; its F1 is above our ceiling: docs/results.md)")  # fmt: skip
    say("")
    query = args.query
    say(f"[4/4] nearest zoo models to {query} (not in the zoo, never trained on)")
    hasher = Hasher.from_checkpoint(f"{args.out}/model.pt")
    onnx_dir = zoo_dir(args.zoo_cache) / "onnx"
    zoo_files = sorted(onnx_dir.glob("*.onnx"))
    db = hasher.hash_many([str(p) for p in zoo_files])
    q = hasher.hash(query)
    dists = [hamming(q.code, r.code) for r in db]
    emb = [float(np.sum((q.embedding - r.embedding) ** 2)) for r in db]
    order = sorted(range(len(db)), key=lambda i: (dists[i], emb[i]))
    near = [
        {"model": db[i].name, "category": CATEGORY_OF.get(db[i].name, ""), "hamming": dists[i]}
        for i in order[: args.top]
    ]
    say(f"  {query}: code {q.hex}, predicted category {q.category}")
    for row in near:
        say(f"  {row['hamming']:>3}  {row['model']:<20} {row['category']}")
    if quiet:
        print_json({"train": summary, "query": q.as_dict(), "nearest": near})
    return 0


def register(sub: Any) -> None:
    d = sub.add_parser(
        "demo",
        help="build the zoo, train, evaluate and run a retrieval (what `make demo` runs)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument("overrides", nargs="*", help="recipe overrides key=value (e.g. train.epochs=50)")
    d.add_argument("--recipe", default=RECOMMENDED, help=f"recipe to train (default {RECOMMENDED})")
    d.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    d.add_argument("--zoo-cache", help="zoo cache directory (default ~/.cache/hnnframe/zoo)")
    d.add_argument(
        "--query", default="torchvision:resnet50", help="model to look up (default resnet50)"
    )
    d.add_argument("--top", type=int, default=5, help="how many neighbours to list")
    d.add_argument("--json", action="store_true", help="print a JSON summary instead of text")
    d.set_defaults(func=cmd_demo)
