"""Index the model zoo, then check a held-out model against it (docs/index-guide.md).

Run:
    hnn zoo build                                   # once: exports the 21 Table-1 models
    hnn train hnn_net --out runs/hnn_net            # or any checkpoint from `hnn train`
    python examples/index_zoo.py --checkpoint runs/hnn_net/model.pt

By default every zoo model except ``--holdout-name`` (resnet34) is indexed in a SQLite file,
and the held-out model is then checked: a good checkpoint puts it near its family (resnet18,
resnet101). ``--models`` and ``--holdout`` take model files instead of the zoo.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import hnnframe.index
from hnnframe.hashing import Hasher


def zoo_models(cache: str | None, holdout_name: str) -> tuple[list[str], str]:
    """The cached zoo ONNX files, split into the indexed ones and the held-out one."""
    from hnnframe.data.zoo import TABLE1, zoo_dir

    onnx = zoo_dir(cache) / "onnx"
    paths = {e.name: onnx / f"{e.name}.onnx" for e in TABLE1}
    missing = [n for n, p in paths.items() if not p.exists()]
    if missing:
        sys.exit(f"zoo models not cached in {onnx} (e.g. {missing[0]}); run `hnn zoo build`")
    if holdout_name not in paths:
        sys.exit(f"{holdout_name} is not a zoo model")
    held = str(paths.pop(holdout_name))
    return [str(p) for p in paths.values()], held


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--checkpoint", required=True, help="model.pt from `hnn train`")
    p.add_argument("--db", help="index file or postgresql:// URL (default: a temporary file)")
    p.add_argument("--zoo-cache", help="zoo cache directory (default ~/.cache/hnnframe/zoo)")
    p.add_argument("--holdout-name", default="resnet34", help="zoo model to hold out")
    p.add_argument("--models", nargs="+", help="index these model files instead of the zoo")
    p.add_argument("--holdout", help="check this model file (with --models)")
    p.add_argument("--radius", type=int, help="check radius (default Q/8)")
    args = p.parse_args(argv)

    if args.models:
        if not args.holdout:
            p.error("--models needs --holdout")
        models, held = args.models, args.holdout
    else:
        models, held = zoo_models(args.zoo_cache, args.holdout_name)

    hasher = Hasher.from_checkpoint(args.checkpoint)
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or str(Path(tmp) / "zoo.db")
        with hnnframe.index.open(db) as idx:
            results = idx.add_models(
                models, hasher, checkpoint=args.checkpoint, label="zoo", progress=True
            )
            ok = [r for r in results if r.ok]
            print(
                f"indexed {len(ok)} models in {idx.url} ({sum(r.added for r in ok)} new, "
                f"{len(results) - len(ok)} failed)"
            )

            [upload] = hasher.hash_many([held])
            print(
                f"held-out {upload.name}: code {upload.hex}, predicted category {upload.category}"
            )
            for m in idx.search(upload, k=3, fingerprint=hasher.fingerprint):
                print(f"  nearest  {m.distance:>3}  {m.record.name:<22} {m.record.category}")
            verdict = idx.check(upload, radius=args.radius, fingerprint=hasher.fingerprint)
            if verdict.clean:
                print(f"clean: nothing within radius {verdict.radius}")
            else:
                names = ", ".join(f"{m.record.name} ({m.distance})" for m in verdict.matches)
                print(f"suspected copy of: {names} (radius {verdict.radius})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
