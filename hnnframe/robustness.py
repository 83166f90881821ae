"""The robustness suite: do re-exported, folded, simplified or quantized copies keep their code?

``hnn eval --suite robustness`` (:mod:`hnnframe.commands.eval`) hashes every zoo model
(the database, as the zoo cache holds it) and, for every transformation of
:mod:`hnnframe.variants`, the transformed copy of every zoo model (the queries). With
``--corpus`` the database is every architecture of the hub corpus (:mod:`hnnframe.corpus`:
torchvision, timm and transformers) and the queries are the variants of the chosen ones
(``--models KEYS``), categories being the corpus families. Per transformation it reports

* the Hamming distance between a model's code and its variant's code (median, mean, max,
  and the share at distance 0);
* whether the variant's nearest neighbour in the database is its own architecture (ranking
  by Hamming distance, ties broken by embedding distance, as :func:`hnnframe.evaluate.rank`);
* whether the nearest neighbour's category is the variant's category, and whether the
  network's classifier names the right category;
* how often canonicalisation alone made the variant's graph identical to the original's (up
  to node order: :meth:`hnnframe.ir.OpGraph.structure_hash`).

Goal (robustness issue): for every transformation, the nearest neighbour is the model's own
architecture for >= 95% of the zoo and the median distance at Q = 64 is <= 2 bits.

``--write-results docs/results.md`` writes the tables between ``<!-- robustness:begin -->`` and
``<!-- robustness:end -->``, one named section per command (``--section``), with the command
line beside it; the rest of the file is left alone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hnnframe.errors import HnnError
from hnnframe.files import read_block, write_block

GOAL_NN_OWN = 0.95
GOAL_MEDIAN_BITS = 2.0


def resolve_transforms(spec: str | Sequence[str] | None) -> list[str]:
    """``listed``, ``unlisted``, ``all`` (default) or a comma-separated list of names."""
    from hnnframe.variants import (
        get_transform,
        listed_transforms,
        transform_names,
        unlisted_transforms,
    )

    if spec is None or spec == "all":
        return transform_names()
    if spec == "listed":
        return listed_transforms()
    if spec == "unlisted":
        return unlisted_transforms()
    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    for n in names:
        get_transform(n)
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
    from hnnframe.variants import build_variants, get_transform

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
    from hnnframe.evaluate import rank

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
    from hnnframe.data.zoo import load_zoo

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
    from hnnframe.corpus import load_corpus

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


def goal_met(row: dict[str, Any], bits: int, rows: Sequence[dict[str, Any]] = ()) -> bool | None:
    """The issue's goal for one row: NN own >= 95% and (at Q = 64) median distance <= 2.

    A group row (all listed, all unlisted) meets it when every transformation of the group in
    ``rows`` does.
    """
    if not row["models"]:
        return None
    if row.get("group"):
        goals = [
            goal_met(r, bits)
            for r in rows
            if not r.get("group") and r["listed"] == row["listed"] and r["models"]
        ]
        return all(goals) if goals else None
    median_ok = row["hamming_median"] <= GOAL_MEDIAN_BITS * bits / 64
    return bool(row["nn_own"] >= GOAL_NN_OWN and median_ok)


def protocol_rows(
    hasher: Any, k: int = 10, radius: int = 2, zoo_cache: str | None = None
) -> list[dict[str, Any]]:
    """Protocols (a) and (b) of ``hnn eval`` for the checkpoint's recipe, without variant
    copies in the database, so that recipes with and without ``data.variants`` are queried
    against the same models and copies."""
    import copy

    from hnnframe.data.dataset import build_dataset
    from hnnframe.evaluate import evaluate_protocols

    recipe = copy.deepcopy(hasher.recipe)
    data = recipe.setdefault("data", {})
    data["variants"] = []
    if zoo_cache:
        data["cache_dir"] = zoo_cache
    ds = build_dataset(recipe)
    res = evaluate_protocols(hasher.hash_graphs, ds, k=k, radius=radius)
    return [{"protocol": p, **r.as_dict()} for p, r in res.items()]


# -- output -------------------------------------------------------------------------------------
def fmt_cell(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "-"
    return f"{100 * x:.0f}%" if pct else (f"{x:.1f}" if x != int(x) else f"{int(x)}")


def markdown_section(
    results: list[dict[str, Any]],
    command: str,
    title: str,
    note: str = "",
    protocols: dict[str, list[dict[str, Any]]] | None = None,
    k: int = 10,
) -> str:
    """A markdown section: the command, then one table with every checkpoint side by side."""
    lines = [f"### {title}", "", f"Command: `{command}`", ""]
    if note:
        lines += [note, ""]
    for res in results:
        lines.append(
            f"- **{res['label']}**: `{res['checkpoint']}` (recipe `{res['recipe']}`, "
            f"Q = {res['bits']}, sha256 {res['fingerprint'][:12]})"
        )
    lines.append("")
    head = ["transform", "listed", "models"]
    for res in results:
        head += [f"{res['label']}: median d", "NN own", "NN category", "goal"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for i, r0 in enumerate(results[0]["rows"]):
        failed = f" ({r0['failed']} n/a)" if r0["failed"] else ""
        cells = [r0["transform"], "yes" if r0["listed"] else "no", f"{r0['models']}{failed}"]
        for res in results:
            r = res["rows"][i]
            goal = goal_met(r, res["bits"], res["rows"])
            mean = "" if r["hamming_mean"] is None else f" (mean {r['hamming_mean']:.2f})"
            cells += [
                f"{fmt_cell(r['hamming_median'])}{mean}",
                fmt_cell(r["nn_own"], True),
                fmt_cell(r["nn_category"], True),
                "-" if goal is None else ("met" if goal else "missed"),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    misses = []
    for res in results:
        for r in res["rows"]:
            for d in r.get("details", []):
                if not d["own"]:
                    misses.append(
                        f"{res['label']}/{r['transform']}: {d['model']} -> "
                        f"{d['nearest']} (d = {d['hamming']})"
                    )
    if misses:
        lines += [
            "",
            "<details><summary>Variants whose nearest neighbour is another "
            f"architecture ({len(misses)})</summary>",
            "",
            *[f"- {m}" for m in misses],
            "",
            "</details>",
        ]
    errors = {
        f"{r['transform']}: {m}": e
        for r in results[0]["rows"]
        for m, e in (r.get("errors") or {}).items()
    }
    if errors:
        lines += [
            "",
            "Variants that could not be produced: "
            + "; ".join(f"{k} ({v})" for k, v in errors.items()),
        ]
    if protocols:
        lines += [
            "",
            "Retrieval protocols (a) and (b) of `hnn eval` on the same checkpoints "
            "(database: the training copies without variant copies):",
            "",
            f"| checkpoint | protocol | P@{k} | R@{k} | mAP | P@r2 |",
            "|---|---|---|---|---|---|",
        ]
        for label, prow in protocols.items():
            for p in prow:
                lines.append(
                    f"| {label} | {p['protocol']} | {p[f'precision@{k}']:.3f} | "
                    f"{p[f'recall@{k}']:.3f} | {p['mAP']:.3f} | "
                    f"{p['precision@r2']:.3f} |"
                )
    return "\n".join(lines)


_INTRO = """## Robustness to re-export, folding, simplification and quantization

Every zoo model is hashed as the zoo cache holds it (the database), and so is each of its
variants (`hnnframe/variants/`: the same network through another exporter or tool; see
[robustness.md](robustness.md)). Per transformation: the median (and mean) Hamming distance
between a model's code and its variant's, the share of variants whose nearest neighbour in
the database is their own architecture (Hamming ranking, ties broken by embedding distance)
and the share whose nearest neighbour has the right category. Goal: NN own >= 95% and median
distance <= 2 bits at Q = 64 for every transformation; "listed" transformations are those of
the robustness issue, the others are a separate check that the invariance is general.
Generated by the commands named in each section; do not edit by hand."""


def write_results(path: str | os.PathLike[str], section: str, text: str) -> Path:
    """Replace (or add) one named section inside the robustness block of ``path``.

    Only the text between ``<!-- robustness:begin -->`` and ``<!-- robustness:end -->`` is
    touched (:func:`hnnframe.files.write_block`); the block (and the file) are created when
    absent.
    """
    sections: dict[str, str] = {}
    for m in re.finditer(
        r"<!-- robustness:section:(\S+) -->\n(.*?)\n<!-- robustness:section-end -->",
        read_block(path, "robustness") or "",
        re.S,
    ):
        sections[m.group(1)] = m.group(2)
    sections[section] = text.strip("\n")
    body = [_INTRO, ""]
    for name, sec in sections.items():
        body += [f"<!-- robustness:section:{name} -->", sec, "<!-- robustness:section-end -->", ""]
    write_block(path, "robustness", "\n".join(body) + "\n")
    return Path(path)
