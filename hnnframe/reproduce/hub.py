"""``hnn reproduce hub``: protocol (c) for the baselines and the recipes, one block.

Every recipe of :data:`HUB_RECIPES` is trained on the hub corpus's training family groups at
each Q of :data:`HUB_BITS` (resumable runs, :func:`hnnframe.reproduce.runner.run_all`); then
each checkpoint and the two WL SimHash baselines are evaluated on protocol (c)
(:mod:`hnnframe.protocol_c`): the same database, the same held-out copies, Hamming only. The
same architectures' derived architectures (:mod:`hnnframe.variants.derived`: a new head, one
layer fewer, ...) are queried too and reported apart, by whether their source is nearest. A
coder's evaluation is cached in ``OUT/eval/<coder>-<Q>.json`` with the signature of the query
set, so a rerun that adds a recipe evaluates only that recipe.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hnnframe.checkpoint import code_layout
from hnnframe.corpus import load_corpus, read_manifest, split_corpus
from hnnframe.corpus.catalog import spread
from hnnframe.files import atomic_write, source_digest
from hnnframe.hashing import Hasher
from hnnframe.log import get_logger
from hnnframe.presets import ROBUST_MERGE, ROBUST_PASSES
from hnnframe.protocol_c import CheckpointCoder, WLCoder, evaluate_coder, hub_queries
from hnnframe.protocol_c.coders import prepared_all
from hnnframe.recipe import load_recipe
from hnnframe.reproduce.plans import Run
from hnnframe.reproduce.runner import run_all
from hnnframe.variants import copy_transforms, derived_transforms, get_transform

log = get_logger(__name__)

HUB_BITS = (32, 64, 128)
# Label -> (recipe, overrides) trained on the corpus's training groups. All-pairs GED is
# unaffordable on the corpus (docs/ged_scale.md), so the existing recipes get 4 GED partners
# per training graph (train.partners) and 4 node-deletion copies per architecture.
CORPUS_DATA = [
    "data.source=corpus",
    "data.copies=4",
    "data.train_frac=0.75",
    "train.partners=4",
    "data.variants=[]",
]
HUB_RECIPES: dict[str, tuple[str, list[str]]] = {
    "hnn_net (paper recipe)": ("hnn_net", CORPUS_DATA),
    "hnn_net_robust": ("hnn_net_robust", CORPUS_DATA),
    # The recommended recipe trains on the corpus as its YAML says.
    "hnn_hub (recommended)": ("hnn_hub", []),
}
DEFAULT_QUERIES_PER_GROUP = 2
DEFAULT_DELETION_COPIES = 2


def hub_runs(
    epochs: int | None,
    recipes: dict[str, tuple[str, list[str]]] | None = None,
    bits: Sequence[int] = HUB_BITS,
) -> list[Run]:
    ep = [f"train.epochs={epochs}"] if epochs else []
    runs = []
    for label, (recipe, ov) in (recipes or HUB_RECIPES).items():
        k = list(HUB_RECIPES).index(label) if label in HUB_RECIPES else len(HUB_RECIPES)
        learned, structural = code_layout(load_recipe(recipe, ov))
        for b in bits:
            # A hybrid code keeps its structural share of Q (whole bytes, at least one).
            part = []
            if structural:
                k_bits = max(8, 8 * round(b * structural / (learned + structural) / 8))
                part = [f"hash.structural_bits={k_bits}"]
            runs.append(
                Run(
                    f"hub-c{k}-{recipe}-{b}",
                    recipe,
                    [*ov, f"hash.bits={b}", *part, *ep],
                    {"label": label, "recipe": recipe, "bits": b},
                )
            )
    return runs


def _signature(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _cached_eval(path: Path, signature: str, compute: Any) -> dict[str, Any]:
    if path.exists():
        row = json.loads(path.read_text())
        if row.get("signature") == signature:
            return row
    row = {**compute(), "signature": signature}
    atomic_write(path, json.dumps(row).encode(), mkdir=True)
    return row


def query_arches(split: Any, per_group: int | None) -> list[int]:
    """The held-out architectures whose transformed copies are queries: at most ``per_group``
    per group (all with None), spread over the group in key order."""
    by_group: dict[str, list[int]] = {}
    for i in split.test:
        by_group.setdefault(split.entries[i].group, []).append(i)
    out = []
    for idx in by_group.values():
        keys = spread([split.entries[i].key for i in idx], per_group or 0)
        out += [i for i in idx if split.entries[i].key in set(keys)]
    return sorted(out)


def run_hub(
    out: str | Path,
    runs: Sequence[Run],
    *,
    corpus_cache: str | None = None,
    variant_cache: str | None = None,
    zoo_cache: str | None = None,
    ged_cache: str | None = None,
    holdout: Sequence[str] | None = None,
    transforms: Sequence[str] | None = None,
    derived: Sequence[str] | None = None,
    queries_per_group: int | None = DEFAULT_QUERIES_PER_GROUP,
    deletion_copies: int = DEFAULT_DELETION_COPIES,
    wl_bits: Sequence[int] = HUB_BITS,
    checkpoints: Sequence[tuple[str, str]] = (),
    jobs: int = 2,
    progress: bool = True,
) -> dict[str, Any]:
    """Train (or reuse) the runs, then evaluate every coder on protocol (c): the WL baselines
    at ``wl_bits``, the runs' checkpoints and any further ``(label, path)`` checkpoints.

    ``transforms`` make the copies (default :func:`copy_transforms`), ``derived`` the derived
    architectures (default every one of :func:`derived_transforms`; ``[]``: none)."""
    out = Path(out)
    t0 = time.perf_counter()
    entries = load_corpus(corpus_cache)
    split = split_corpus(entries, holdout)
    q_idx = query_arches(split, queries_per_group)
    names = list(transforms) if transforms is not None else copy_transforms()
    kinds = [k for k in (derived_transforms() if derived is None else derived) if k not in names]
    queries, errors = _queries(
        entries, split, q_idx, [*names, *kinds], deletion_copies, variant_cache, progress
    )
    kinds += [n for n in names if get_transform(n).derived]  # named among the copies' too
    names = [n for n in names if n not in kinds]
    copies = [q for q in queries if not q.derived]
    bench = _Bench(out, split, queries, _query_signature(entries, split, queries), progress)
    caches = {"zoo_cache": zoo_cache, "ged_cache": ged_cache}
    results = run_all(runs, out / "runs", jobs=jobs, progress=progress, **caches) if runs else []
    rows = _wl_rows(bench, wl_bits)
    for run, res in zip(runs, results, strict=True):
        model = out / "runs" / run.name / "model.pt"
        for row in _checkpoint_rows(bench, model, run.meta["label"], run.name):
            rows.append({**row, "train_seconds": res["seconds"], "epochs": res["epochs"]})
    for label, path in checkpoints:
        rows += _checkpoint_rows(bench, path, label, f"ckpt-{Path(path).parent.name}")
    manifest = read_manifest(corpus_cache)
    return {
        "rows": rows,
        "corpus": {
            **manifest["summary"],
            "sources": ", ".join(f"{v} {k}" for k, v in manifest["summary"]["by_source"].items()),
        },
        "split": _split_summary(split),
        "queries": {
            "total": len(copies),
            "per_transform": _per_transform(copies),
            "summary": f"tool-made copies of {len(q_idx)} architectures "
            f"(at most {queries_per_group} per held-out group) under "
            f"{len(names)} transformations, and {deletion_copies} node-deletion "
            f"copies (10%) of each of the {len(split.test)} held-out architectures",
            "errors": {t: e for t, e in errors.items() if t not in kinds},
            "derived": _derived_summary(queries, kinds, errors, len(q_idx)),
        },
        "unique_ceiling": _unique_ceiling(entries, progress),
        "seconds": time.perf_counter() - t0,
    }


def _split_summary(split: Any) -> dict[str, Any]:
    """The held-out split's groups and sizes, as the report names them."""
    return {
        "train_groups": split.train_groups,
        "test_groups": split.test_groups,
        "train_archs": len(split.train),
        "test_archs": len(split.test),
    }


@dataclass
class _Bench:
    """What every coder is evaluated on: the split, the queries and their signature, with the
    folder whose ``eval/`` caches each coder's evaluation."""

    out: Path
    split: Any
    queries: list[Any]
    signature: str
    progress: bool

    def evaluate(self, coder: Any, stem: str, signature: str) -> dict[str, Any]:
        """The coder's protocol (c) row, from ``eval/<stem>.json`` when its signature holds."""
        return _cached_eval(
            self.out / "eval" / f"{stem}.json",
            signature,
            lambda: evaluate_coder(coder, self.split, self.queries),
        )


def _queries(
    entries: list[Any],
    split: Any,
    q_idx: list[int],
    names: list[str],
    deletion_copies: int,
    variant_cache: str | None,
    progress: bool,
) -> tuple[list[Any], dict[str, dict[str, str]]]:
    """The queries and the copies that could not be made.

    Every held-out architecture gets node-deletion copies; the tool-made copies go to a few per
    group (each costs a real export with the tool, seconds to a minute).
    """
    queries, errors = hub_queries(
        entries, q_idx, names, deletion_copies=0, variant_cache=variant_cache, progress=progress
    )
    deletions, _ = hub_queries(entries, split.test, [], deletion_copies=deletion_copies)
    queries += deletions
    return queries, errors


def _query_signature(entries: list[Any], split: Any, queries: list[Any]) -> str:
    """The key of every cached evaluation: the corpus, the held-out groups, the code that
    reads graphs, and the queries.

    The code that turns a raw graph into a code's input is part of the key: a fix in the
    reader or the canonical passes changes graphs that content_hash (op, FLOPs, params,
    edges of the raw graph) cannot see, such as a FusedConv's activation.
    """
    code = source_digest("frontends", "ir", "canonical", "merge", "wl", "baselines")
    return _signature(
        [e.key for e in entries],
        list(split.holdout),
        code,
        [(q.arch, q.transform, q.graph.content_hash()) for q in queries],
    )


def _wl_rows(bench: _Bench, wl_bits: Sequence[int]) -> list[dict[str, Any]]:
    """The WL SimHash baselines, on raw and on canonical graphs, at each Q."""
    rows = []
    for bits in wl_bits:
        for canonical in (False, True):
            coder = WLCoder(bits, canonical, progress=bench.progress)
            rows.append(bench.evaluate(coder, f"{coder.key}-{bits}", bench.signature))
    return rows


def _checkpoint_rows(
    bench: _Bench, path: Path | str, label: str, stem: str
) -> list[dict[str, Any]]:
    """The checkpoint's row and, for a hybrid code, a row for each part alone."""
    hasher = Hasher.from_checkpoint(path)
    parts = ["all", "learned", "structural"] if hasher.structural_bits else ["all"]
    out_rows = []
    for part in parts:
        coder = CheckpointCoder(hasher, label, part, progress=bench.progress)
        sig = _signature(bench.signature, hasher.fingerprint, part)
        row = bench.evaluate(coder, f"{stem}-{part}", sig)
        out_rows.append({**row, "name": coder.name, "part": part})
    return out_rows


def _unique_ceiling(entries: list[Any], progress: bool) -> float:
    """The share of architectures whose canonical graph no other architecture shares.

    What no code of the canonical graph can beat: architectures that canonicalise to one
    graph (the same network in two libraries, Llama and Mistral at one size) share any such
    code. The WL baseline on canonical graphs meets this bound when its code is unique.
    """
    cfg = {"canonical": list(ROBUST_PASSES), "merge": ROBUST_MERGE}
    canon = [g.structure_hash() for g in prepared_all([e.graph for e in entries], cfg, progress)]
    counts = Counter(canon)
    return sum(counts[h] == 1 for h in canon) / len(canon)


def _derived_summary(
    queries: list[Any], kinds: list[str], errors: dict[str, dict[str, str]], archs: int
) -> dict[str, Any]:
    """The derived architectures queried: how many per kind, and those not made."""
    made = [q for q in queries if q.derived]
    return {
        "total": len(made),
        "per_kind": _per_transform(made),
        "summary": f"derived architectures of the same {archs} architectures ({', '.join(kinds)})",
        "errors": {t: e for t, e in errors.items() if t in kinds},
    }


def _per_transform(queries: list[Any]) -> dict[str, int]:
    """How many queries each transformation made, in the order the queries list them."""
    per_t: dict[str, int] = {}
    for q in queries:
        per_t[q.transform] = per_t.get(q.transform, 0) + 1
    return per_t
