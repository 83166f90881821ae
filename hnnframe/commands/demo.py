"""``hnn demo``: the main job end to end on a fresh machine (``make demo``).

A platform holds models and asks of each upload: which one is this a copy of?

1. builds the Table-1 zoo and a slice of the hub corpus (the zoo, resnet50, a few timm
   families and small transformers; ``hnnframe.corpus.catalog.demo_candidates``);
2. trains the recommended recipe (recipes/hnn_hub.yaml, Q = 64) on the slice's training
   families; the held-out families (convnext, regnet, bert, gpt2) and resnet50 are never seen;
3. hashes every architecture of the slice into the database, one code each;
4. looks up held-out architectures and copies of zoo models made by real tools (another
   exporter, BN folding, int8 quantization) and prints their nearest entries by Hamming
   distance, and how many architectures share a code;
5. trains a small language model here (under a minute), indexes it as a snapshot directory
   and checks three uploads: a fine-tuned copy saved in shards, its GGUF export and an
   independently trained model of the same config (:mod:`hnnframe.commands.demo_lm`).

The recipe's figures on the full corpus are in docs/results.md (`hnn reproduce hub`).
"""

from __future__ import annotations

import argparse
from typing import Any

from hnnframe.commands.output import print_json

RECOMMENDED = "hnn_hub"
# Lookups: (what the platform receives, how it was made, the architecture it is a copy of).
QUERIES = (
    ("tv--resnet50", None, "resnet50: held out of training, its family (ResNet) seen"),
    ("timm--convnext_atto", None, "convnext_atto: a family never trained on"),
    ("hf--bert-L4-H256", None, "BERT (4 layers): a transformer family never trained on"),
    ("tv--resnet18", "bn_folded", "resnet18 re-exported in eval mode, BN folded into Conv"),
    ("tv--mobilenet_v2", "dynamo", "mobilenet_v2 through the dynamo exporter"),
    ("tv--squeezenet1_1", "qdq", "squeezenet1_1 quantized to int8 by onnxruntime"),
)


def cmd_demo(args: argparse.Namespace) -> int:
    import numpy as np

    from hnnframe.codes import hamming_matrix
    from hnnframe.corpus import build_corpus, corpus_dir, load_corpus
    from hnnframe.corpus.catalog import demo_candidates
    from hnnframe.data.zoo import build_zoo, zoo_dir
    from hnnframe.hashing import Hasher
    from hnnframe.recipe import load_recipe
    from hnnframe.train import Trainer
    from hnnframe.variants import build_variants

    quiet = args.json
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    cands = demo_candidates()
    say(f"[1/5] the zoo in {zoo_dir(args.zoo_cache)} and a slice of the hub corpus "
        f"({len(cands)} architectures) in {corpus_dir(args.corpus_cache)}")  # fmt: skip
    build_zoo(args.zoo_cache, progress=not quiet)
    build_corpus(cands, args.corpus_cache, jobs=args.jobs, progress=not quiet)
    entries = load_corpus(args.corpus_cache, {c.key for c in cands})
    keys = [e.key for e in entries]
    overrides = [f"data.keys={keys}", "data.exclude=[tv--resnet50]", *args.overrides]
    if args.corpus_cache:
        overrides.append(f"data.corpus_cache={args.corpus_cache}")
    recipe = load_recipe(args.recipe, overrides, args.zoo_cache)
    bits = int(recipe["hash"]["bits"])
    say(f"[2/5] training {recipe['name']} (Q = {bits}) on the slice's training families "
        f"-> {args.out}/model.pt")  # fmt: skip
    summary = Trainer(recipe, args.out, progress=not quiet, resume=not args.restart).fit()
    say(f"      {summary['epochs']} epochs in {summary['seconds']:.0f} s")
    hasher = Hasher.from_checkpoint(f"{args.out}/model.pt")
    say(f"[3/5] hashing the {len(entries)} architectures of the slice into the database")
    db = hasher.hash_graphs([hasher.graph(e.graph) for e in entries])["codes"]
    d_db = hamming_matrix(db, db)
    shared = int(((d_db == 0).sum(axis=1) > 1).sum())
    say(f"      {len(entries) - shared} of {len(entries)} architectures have a code no other "
        "architecture has")  # fmt: skip
    say("[4/5] lookups: the nearest database entries by Hamming distance")
    by_key = {e.key: e for e in entries}
    made = {(t, k): None for k, t, _ in QUERIES if t}
    if made:
        specs = sorted({(k, by_key[k].spec) for _, k in made})
        built = build_variants(specs, sorted({t for t, _ in made}), args.variant_cache,
                               progress=not quiet)  # fmt: skip
        made = {tk: built[tk].graph for tk in made}
    lookups = []
    for key, transform, what in QUERIES:
        if key not in by_key:
            continue
        graph = by_key[key].graph if transform is None else made.get((transform, key))
        if graph is None:
            say(f"  {what}: the tool could not make this copy here; skipped")
            continue
        code = hasher.hash_graphs([hasher.graph(graph)])["codes"]
        d = hamming_matrix(code, db)[0]
        order = np.argsort(d, kind="stable")[: args.top]
        near = [{"entry": entries[i].key, "family": entries[i].group, "hamming": int(d[i])}
                for i in order]  # fmt: skip
        ties = int((d == d.min()).sum())
        own = key in {entries[i].key for i in np.flatnonzero(d == d.min())}
        lookups.append({"query": key, "transform": transform, "what": what, "nearest": near,
                        "own_is_nearest": own, "tied_at_minimum": ties})  # fmt: skip
        say(f"  {what}")
        for n in near:
            mark = "  <- itself" if n["entry"] == key else ""
            say(f"    {n['hamming']:>3}  {n['entry']:<28} {n['family']}{mark}")
        if ties > 1:  # a Hamming search cannot tell these apart: a random pick is right 1/k
            say(f"    ({ties} entries tie at distance {int(d.min())}: "
                f"{'the copy is among them' if own else 'the copy is not among them'})")  # fmt: skip
    say("[5/5] a language model as a hub receives it: trained, indexed, and three uploads")
    from hnnframe.commands.demo_lm import run as lm_demo

    lm = lm_demo(args.out, hasher, say)
    if quiet:
        print_json({"train": summary, "architectures": len(entries),
                    "unique_codes": len(entries) - shared, "lookups": lookups,
                    "language_model": lm})  # fmt: skip
    return 0


def register(sub: Any) -> None:
    d = sub.add_parser(
        "demo",
        help="build a corpus slice, train, index and look copies up (what `make demo` runs)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument("overrides", nargs="*", help="recipe overrides key=value (e.g. train.epochs=20)")
    d.add_argument("--recipe", default=RECOMMENDED, help=f"recipe to train (default {RECOMMENDED})")
    d.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    d.add_argument("--zoo-cache", help="zoo cache directory (default ~/.cache/hnnframe/zoo)")
    d.add_argument("--corpus-cache", help="corpus cache (default ~/.cache/hnnframe/corpus)")
    d.add_argument("--variant-cache", help="variant cache (default ~/.cache/hnnframe/variants)")
    d.add_argument("--jobs", type=int, default=2, help="parallel exports (default 2)")
    d.add_argument("--top", type=int, default=4, help="how many neighbours to list")
    d.add_argument("--json", action="store_true", help="print a JSON summary instead of text")
    d.add_argument(
        "--restart",
        action="store_true",
        help="train from epoch 1 even if an interrupted demo left its state in OUT",
    )
    d.set_defaults(func=cmd_demo)
