"""The suite's rows: every transformation's variants hashed and queried against the database
(the zoo, or the hub corpus), summarised per transformation and per group; and protocols (a)
and (b) on the same checkpoint. The package docstring (:mod:`hnnframe.robustness`) describes
what is measured."""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from hnnframe.corpus import load_corpus
from hnnframe.data.dataset import build_dataset
from hnnframe.data.zoo import load_zoo
from hnnframe.errors import ConfigError, HnnError
from hnnframe.evaluate import evaluate_protocols, rank
from hnnframe.variants import (
    build_variants,
    copy_transforms,
    get_transform,
    listed_transforms,
    unlisted_transforms,
)


def resolve_transforms(spec: str | Sequence[str] | None) -> list[str]:
    """``listed``, ``unlisted``, ``all`` (default: both, the copies; derived architectures are
    no copies and are left out) or a comma-separated list of names."""
    if spec is None or spec == "all":
        return copy_transforms()
    if spec == "listed":
        return listed_transforms()
    if spec == "unlisted":
        return unlisted_transforms()
    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    for n in names:
        if get_transform(n).derived:
            raise ConfigError(
                f"{n} makes a derived architecture, not a copy: protocol (c) scores it "
                "(hnn reproduce hub --derived), the robustness suite does not"
            )
    return names


def _summary(
    transform: str, listed: bool, description: str, details: list[dict[str, Any]], failed: int
) -> dict[str, Any]:
    d = np.array([x["hamming"] for x in details], dtype=float)
    n = len(details)

    def share(key: str) -> float | None:
        return float(np.mean([x[key] for x in details])) if n else None

    return {
        "transform": transform,
        "listed": listed,
        "description": description,
        "models": n,
        "failed": failed,
        "hamming_median": float(np.median(d)) if n else None,
        "hamming_mean": float(d.mean()) if n else None,
        "hamming_max": int(d.max()) if n else None,
        "hamming_zero": float((d == 0).mean()) if n else None,
        "nn_own": share("own"),
        "nn_category": share("category_ok"),
        "class_ok": share("class_ok"),
        "same_graph": share("same_graph"),
    }


def robustness_suite(
    hasher: Any,
    transforms: Sequence[str] | str | None = None,
    zoo_cache: str | os.PathLike[str] | None = None,
    *,
    variant_cache: str | os.PathLike[str] | None = None,
    query_models: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    progress: bool = True,
    corpus: bool = False,
    corpus_cache: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """Rows of the suite: one per transformation, then one per group (listed, unlisted).

    Args:
        hasher: a :class:`hnnframe.hashing.Hasher`.
        transforms: names, or ``listed``/``unlisted``/``all`` (default all).
        zoo_cache: the zoo cache (default ``~/.cache/hnnframe/zoo``); the database.
        variant_cache: where variants are cached (default ``~/.cache/hnnframe/variants``).
        query_models: the zoo models whose variants are queried (default all of ``models``);
            the database is always every model of ``models``.
        models: the zoo models in the database (default the whole zoo of Table 1). With
            ``corpus``: the corpus keys whose variants are queried (default every
            architecture).
        progress: show progress bars.
        corpus: the database is every architecture of the hub corpus (its graphs as the
            corpus cache holds them) instead of the zoo; the categories are its families.
        corpus_cache: the corpus cache (default ``~/.cache/hnnframe/corpus``).

    Each row has the summary fields and ``details``: one dict per model (its Hamming
    distance, nearest neighbour, nearest category, predicted category).
    """
    names_t = resolve_transforms(transforms)
    if corpus:
        names, cats, labels, graphs, specs, queries = _corpus_database(corpus_cache, models)
    else:
        names, cats, labels, graphs, specs, queries = _zoo_database(zoo_cache, models, query_models)
    db_graphs = [hasher.graph(g) for g in graphs]
    db = hasher.hash_graphs(db_graphs)
    db_structure = [g.structure_hash() for g in db_graphs]
    variants = build_variants(
        [(n, specs[n]) for n in queries], names_t, variant_cache, progress=progress
    )
    rows = []
    groups: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    fails: dict[bool, int] = {True: 0, False: 0}
    for t in names_t:
        tr = get_transform(t)
        ok = [(n, variants[(t, n)].graph) for n in queries if variants[(t, n)].ok]
        failed = len(queries) - len(ok)
        details = _details(hasher, ok, db, db_structure, names, cats, labels) if ok else []
        row = _summary(t, tr.listed, tr.description, details, failed)
        row["details"] = details
        row["errors"] = {n: variants[(t, n)].error for n in queries if not variants[(t, n)].ok}
        rows.append(row)
        groups[tr.listed] += details
        fails[tr.listed] += failed
    return rows + _group_rows(rows, groups, fails)


def _details(
    hasher: Any,
    ok: list[tuple[str, Any]],
    db: dict[str, Any],
    db_structure: list[str],
    names: list[str],
    cats: dict[str, str],
    labels: dict[str, set[str]],
) -> list[dict[str, Any]]:
    """One transformation's variants (``ok``: model name, graph) against the database."""
    index = {n: i for i, n in enumerate(names)}
    q_graphs = [hasher.graph(g) for _, g in ok]
    q = hasher.hash_graphs(q_graphs)
    order, ham = rank(q["codes"], db["codes"], q["embedding"], db["embedding"])
    details = []
    for k, (n, _) in enumerate(ok):
        i = index[n]
        nn = names[int(order[k, 0])]
        pred = hasher.categories[int(q["pred"][k])] if hasher.categories else ""
        details.append(
            {
                "model": n,
                "hamming": int(ham[k, i]),
                "nearest": nn,
                "own": nn == n,
                "nearest_category": cats[nn],
                "category_ok": cats[nn] == cats[n],
                "predicted": pred,
                "class_ok": pred in labels[n],
                "same_graph": q_graphs[k].structure_hash() == db_structure[i],
            }
        )
    return details


def _group_rows(
    rows: list[dict[str, Any]], groups: dict[bool, list[dict[str, Any]]], fails: dict[bool, int]
) -> list[dict[str, Any]]:
    """The summary rows of the listed and the unlisted transformations."""
    out = []
    for listed, label in ((True, "all listed"), (False, "all unlisted")):
        if any(r["listed"] == listed for r in rows):
            summary = _summary(label, listed, "every variant of the group", groups[listed], 0)
            summary["failed"] = fails[listed]
            summary["group"] = True
            out.append(summary)
    return out


# (names, category of each, labels a classifier may name for each, raw graphs, source spec of
# each, the names whose variants are queried)
_Database = tuple[
    list[str], dict[str, str], dict[str, set[str]], list[Any], dict[str, str], list[str]
]


def _zoo_database(
    zoo_cache: str | os.PathLike[str] | None,
    models: Sequence[str] | None,
    query_models: Sequence[str] | None,
) -> _Database:
    """The zoo as the database: its models, categories and ``torchvision:`` sources."""
    zoo = load_zoo(zoo_cache, models)
    names = [e.name for e, _ in zoo]
    cats = {e.name: e.category for e, _ in zoo}
    queries = list(query_models) if query_models else names
    unknown = set(queries) - set(names)
    if unknown:
        raise HnnError(f"not zoo models: {sorted(unknown)}")
    labels = {n: {c} for n, c in cats.items()}
    return names, cats, labels, [g for _, g in zoo], {n: f"torchvision:{n}" for n in names}, queries


def _corpus_database(
    corpus_cache: str | os.PathLike[str] | None, models: Sequence[str] | None
) -> _Database:
    """The hub corpus as the database: every architecture, its family as its category (a
    classifier trained on the corpus names families or their groups), the chosen keys as
    queries."""
    entries = load_corpus(corpus_cache)
    names = [e.key for e in entries]
    queries = list(models) if models else names
    unknown = sorted(set(queries) - set(names))
    if unknown:
        raise HnnError(
            f"not corpus architectures: {unknown[:10]}"
            + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
        )
    cats = {e.key: e.family for e in entries}
    labels = {e.key: {e.family, e.group} for e in entries}
    specs = {e.key: e.spec for e in entries}
    return names, cats, labels, [e.graph for e in entries], specs, queries


def protocol_rows(
    hasher: Any, k: int = 10, radius: int = 2, zoo_cache: str | None = None
) -> list[dict[str, Any]]:
    """Protocols (a) and (b) of ``hnn eval`` for the checkpoint's recipe, without variant
    copies in the database, so that recipes with and without ``data.variants`` are queried
    against the same models and copies."""
    recipe = copy.deepcopy(hasher.recipe)
    data = recipe.setdefault("data", {})
    data["variants"] = []
    if zoo_cache:
        data["cache_dir"] = zoo_cache
    ds = build_dataset(recipe)
    res = evaluate_protocols(hasher.hash_graphs, ds, k=k, radius=radius)
    return [{"protocol": p, **r.as_dict()} for p, r in res.items()]
