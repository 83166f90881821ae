"""Fingerprint of everything a restructure must not change: graphs, codes and training.

Run it before and after a change to the package's layout and compare the two JSON files::

    python benchmarks/fingerprint.py --out /tmp/before.json      # at the old commit
    python benchmarks/fingerprint.py --out /tmp/after.json       # at the new one
    python benchmarks/fingerprint.py --compare /tmp/before.json /tmp/after.json

It reads every cached zoo ONNX file and every cached variant ONNX file (``hnn zoo build`` and
the robustness suite fill the caches; ``--build`` fills them here) the way hnnframe reads an
upload, and records for each graph the content hash raw, after ROBUST_PASSES with the robust
merge rules, and after INVARIANT_PASSES, plus every QuantizeLinear's saturation range. It then
trains a short, deterministic run of the demo recipe and records its validation metrics and
the codes and embeddings that checkpoint gives every graph. Only public entry points that the
package has had since its first sessions are used, so the same file runs against old code
(``PYTHONPATH=<old checkout>``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any


def _graphs(zoo_cache: str | None, variant_cache: str | None, build: bool) -> dict[str, Any]:
    from hnnframe.data.zoo import TABLE1, build_zoo, zoo_dir
    from hnnframe.frontends import load_onnx_file
    from hnnframe.ir import from_onnx

    if build:
        build_zoo(zoo_cache, progress=True)
        from hnnframe.variants import build_variants, copy_transforms

        build_variants(
            [(e.name, f"torchvision:{e.name}") for e in TABLE1],
            copy_transforms(),
            variant_cache,
            progress=True,
        )
    files = sorted((zoo_dir(zoo_cache) / "onnx").glob("*.onnx"))
    vroot = Path(variant_cache) if variant_cache else zoo_dir(zoo_cache).parent / "variants"
    files += sorted(vroot.glob("*/*.onnx"))
    out = {}
    for f in files:
        key = f"{f.parent.name}/{f.stem}"
        name = (
            f.stem
            if f.parent.name == "onnx"
            else json.loads(f.with_suffix(".json").read_text())["model"]
        )
        out[key] = from_onnx(load_onnx_file(f), name)
    return out


def _prepare(graph: Any, canonical: list[str], merge: list[str]) -> Any:
    from hnnframe.canonical import apply_canonical
    from hnnframe.merge import apply_rules

    return apply_rules(apply_canonical(graph, canonical), merge)[0]


def fingerprint(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    from hnnframe.presets import INVARIANT_PASSES, ROBUST_PASSES
    from hnnframe.recipe import load_recipe

    robust = load_recipe("hnn_net_robust")
    merge = list(robust["graph"]["merge"])
    graphs = _graphs(args.zoo_cache, args.variant_cache, args.build)
    rows: dict[str, Any] = {}
    for key, g in graphs.items():
        rows[key] = {
            "raw": g.content_hash(),
            "robust": _prepare(g, ROBUST_PASSES, merge).content_hash(),
            "invariant": _prepare(g, INVARIANT_PASSES, []).content_hash(),
            "clamps": [list(n.clamp) for n in g.nodes if getattr(n, "clamp", None)],
        }
    result: dict[str, Any] = {"graphs": rows}
    if args.epochs:
        from hnnframe.hashing import Hasher
        from hnnframe.train import Trainer

        recipe = load_recipe(
            "hnn_net_robust",
            [f"train.epochs={args.epochs}", "hash.bits=32", "train.eval_every=1"],
            args.zoo_cache,
        )
        if args.variant_cache:
            recipe["data"]["variant_cache"] = args.variant_cache
        if args.no_variants:  # the zoo's own copies only: no variant has to be exported
            recipe["data"]["variants"] = []
        with tempfile.TemporaryDirectory() as d:
            summary = Trainer(recipe, d, progress=False).fit()
            hasher = Hasher.from_checkpoint(Path(d) / "model.pt")
            keys = sorted(graphs)
            out = hasher.hash_graphs([hasher.graph(graphs[k]) for k in keys])
        result["train"] = {k: round(float(v), 6) for k, v in summary["final"].items()}
        result["codes"] = {
            k: np.packbits(out["codes"][i]).tobytes().hex() for i, k in enumerate(keys)
        }
        emb = np.round(out["embedding"].astype(np.float64), 4)
        result["embedding_sha"] = hashlib.sha256(emb.tobytes()).hexdigest()
    return result


def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
    bad = 0
    for section in ("graphs", "codes", "train"):
        x, y = a.get(section, {}), b.get(section, {})
        missing = sorted(set(x) ^ set(y))
        diff = sorted(k for k in set(x) & set(y) if x[k] != y[k])
        print(
            f"{section}: {len(set(x) & set(y))} shared, {len(diff)} differ, "
            f"{len(missing)} only on one side"
        )
        for k in (diff + missing)[:20]:
            print(f"  {k}: {x.get(k)} != {y.get(k)}")
        bad += len(diff) + len(missing)
    same_emb = a.get("embedding_sha") == b.get("embedding_sha")
    print(f"embeddings (rounded to 1e-4): {'identical' if same_emb else 'DIFFER'}")
    return 0 if bad == 0 and same_emb else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", help="write the fingerprint JSON here")
    p.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"), help="compare two files")
    p.add_argument("--zoo-cache")
    p.add_argument("--variant-cache")
    p.add_argument("--build", action="store_true", help="build the zoo and all variants first")
    p.add_argument("--epochs", type=int, default=20, help="training epochs (0: no training)")
    p.add_argument(
        "--no-variants",
        action="store_true",
        help="train without transformed variants (nothing to export first)",
    )
    args = p.parse_args()
    if args.compare:
        a, b = (json.loads(Path(f).read_text()) for f in args.compare)
        return compare(a, b)
    res = fingerprint(args)
    text = json.dumps(res, indent=1, sort_keys=True)
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}: {len(res['graphs'])} graphs")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
