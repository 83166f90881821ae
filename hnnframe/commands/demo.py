"""``hnn demo``: the main job end to end on a fresh machine (``make demo``).

A platform holds models and asks of each upload: which one is this a copy of?

1. builds the Table-1 zoo and a slice of the hub corpus (the zoo, resnet50, a few timm
   families and small transformers; ``hnnframe.corpus.catalog.demo_candidates``);
2. trains the recommended recipe (recipes/hnn_hub.yaml, Q = 64) on the slice's training
   families; the held-out families (convnext, regnet, bert, gpt2) and resnet50 are never seen;
3. hashes every architecture of the slice into the database, one code each: each is described
   as an upload (:func:`hnnframe.upload.describe_uploads`) and added to a hash index (a
   temporary SQLite file, :class:`hnnframe.index.HashIndex`);
4. looks up held-out architectures and copies of zoo models made by real tools (another
   exporter, BN folding, int8 quantization) in that index and prints their nearest entries by
   Hamming distance, and how many architectures share a code;
5. trains a small language model here (under a minute), indexes it as a snapshot directory
   and checks three uploads: a fine-tuned copy saved in shards, its GGUF export and an
   independently trained model of the same config (:mod:`hnnframe.commands.demo_lm`).

The recipe's figures on the full corpus are in docs/results.md (`hnn reproduce hub`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from hnnframe.commands.demo_lm import run as lm_demo
from hnnframe.commands.output import print_json
from hnnframe.recipe import load_recipe

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


Say = Callable[..., None]


def _slice(args: argparse.Namespace, say: Say, quiet: bool) -> list[Any]:
    """Step 1: the zoo and the corpus slice, built (or found in the caches); its entries."""
    from hnnframe.corpus import build_corpus, corpus_dir, load_corpus
    from hnnframe.corpus.catalog import demo_candidates
    from hnnframe.data.zoo import build_zoo, zoo_dir

    cands = demo_candidates()
    say(
        f"[1/5] the zoo in {zoo_dir(args.zoo_cache)} and a slice of the hub corpus "
        f"({len(cands)} architectures) in {corpus_dir(args.corpus_cache)}"
    )
    build_zoo(args.zoo_cache, progress=not quiet)
    build_corpus(cands, args.corpus_cache, jobs=args.jobs, progress=not quiet)
    return load_corpus(args.corpus_cache, {c.key for c in cands})


def _train(args: argparse.Namespace, entries: list[Any], say: Say, quiet: bool) -> dict[str, Any]:
    """Step 2: the recommended recipe trained on the slice's training families."""
    from hnnframe.train import Trainer

    keys = [e.key for e in entries]
    overrides = [f"data.keys={keys}", "data.exclude=[tv--resnet50]", *args.overrides]
    if args.corpus_cache:
        overrides.append(f"data.corpus_cache={args.corpus_cache}")
    recipe = load_recipe(args.recipe, overrides, args.zoo_cache)
    say(
        f"[2/5] training {recipe['name']} (Q = {int(recipe['hash']['bits'])}) on the slice's "
        f"training families -> {args.out}/model.pt"
    )
    summary = Trainer(recipe, args.out, progress=not quiet, resume=not args.restart).fit()
    say(f"      {summary['epochs']} epochs in {summary['seconds']:.0f} s")
    return summary


def _index_slice(idx: Any, entries: list[Any], coder: Any, say: Say) -> tuple[list[int], int]:
    """Step 3: every architecture described as an upload and added to the index; the record
    ids (in the slice's order) and how many architectures share their code with another."""
    from hnnframe.upload import describe_uploads

    say(f"[3/5] hashing the {len(entries)} architectures of the slice into the database")
    uploads = describe_uploads([e.graph for e in entries], coder, names=[e.key for e in entries])
    ids = [int(a.id) for a in idx.add(uploads, fingerprint=coder.fingerprint)]
    shared = sum(len(idx.search(u, k=None, radius=0)) > 1 for u in uploads)
    say(
        f"      {len(entries) - shared} of {len(entries)} architectures have a code no other "
        "architecture has"
    )
    return ids, shared


def _copies(args: argparse.Namespace, by_key: dict[str, Any], quiet: bool) -> dict[Any, Any]:
    """The copies of zoo models made by real tools: ``(transform, key) -> graph or None``."""
    from hnnframe.variants import build_variants

    made = {(t, k): None for k, t, _ in QUERIES if t and k in by_key}
    if not made:
        return made
    specs = sorted({(k, by_key[k].spec) for _, k in made})
    transforms = sorted({t for t, _ in made})
    built = build_variants(specs, transforms, args.variant_cache, progress=not quiet)
    return {tk: built[tk].graph for tk in made}


def _lookup(
    idx: Any, entries: list[Any], ids: list[int], query: tuple[str, Any, str], up: Any, top: int
) -> tuple[dict[str, Any], int]:
    """One lookup through the index: the ``top`` nearest entries (by distance, then order of
    addition) and the entries tied at the minimum distance; and that distance."""
    from hnnframe.protocol_c.retrieval import nearest_ties

    key, transform, what = query
    entry = {rid: entries[i] for i, rid in enumerate(ids)}
    near = [
        {"entry": entry[m.record.id].key, "family": entry[m.record.id].group, "hamming": m.distance}
        for m in idx.search(up, k=top)
    ]
    tied = nearest_ties(idx, up)
    own = key in {entry[m.record.id].key for m in tied}
    return {
        "query": key,
        "transform": transform,
        "what": what,
        "nearest": near,
        "own_is_nearest": own,
        "tied_at_minimum": len(tied),
    }, (tied[0].distance if tied else 0)


def _lookups(
    args: argparse.Namespace, idx: Any, entries: list[Any], ids: list[int], coder: Any, say: Say
) -> list[dict[str, Any]]:
    """Step 4: held-out architectures and tool-made copies looked up in the index."""
    from hnnframe.upload import describe_uploads

    say("[4/5] lookups: the nearest database entries by Hamming distance")
    by_key = {e.key: e for e in entries}
    made = _copies(args, by_key, args.json)
    lookups = []
    for key, transform, what in QUERIES:
        if key not in by_key:
            continue
        graph = by_key[key].graph if transform is None else made.get((transform, key))
        if graph is None:
            say(f"  {what}: the tool could not make this copy here; skipped")
            continue
        [up] = describe_uploads([graph], coder, names=[key])
        found, minimum = _lookup(idx, entries, ids, (key, transform, what), up, args.top)
        lookups.append(found)
        say(f"  {what}")
        for n in found["nearest"]:
            mark = "  <- itself" if n["entry"] == key else ""
            say(f"    {n['hamming']:>3}  {n['entry']:<28} {n['family']}{mark}")
        ties = found["tied_at_minimum"]
        if ties > 1:  # a Hamming search cannot tell these apart: a random pick is right 1/k
            among = (
                "the copy is among them"
                if found["own_is_nearest"]
                else "the copy is not among them"
            )
            say(f"    ({ties} entries tie at distance {minimum}: {among})")
    return lookups


def cmd_demo(args: argparse.Namespace) -> int:
    import tempfile

    import hnnframe.index
    from hnnframe.hashing import Hasher
    from hnnframe.protocol_c.coders import CheckpointCoder

    quiet = args.json
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    entries = _slice(args, say, quiet)
    summary = _train(args, entries, say, quiet)
    hasher = Hasher.from_checkpoint(f"{args.out}/model.pt")
    coder = CheckpointCoder(hasher)  # the checkpoint's code of an in-memory graph
    # The database is a real hash index (a temporary SQLite file), searched as `hnn index
    # search` searches it.
    with tempfile.TemporaryDirectory(prefix="hnn-demo-") as tmp:
        with hnnframe.index.open(f"{tmp}/database.db") as idx:
            ids, shared = _index_slice(idx, entries, coder, say)
            lookups = _lookups(args, idx, entries, ids, coder, say)
    say("[5/5] a language model as a hub receives it: trained, indexed, and three uploads")
    lm = lm_demo(args.out, hasher, say)
    if quiet:
        print_json(
            {
                "train": summary,
                "architectures": len(entries),
                "unique_codes": len(entries) - shared,
                "lookups": lookups,
                "language_model": lm,
            }
        )
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
