"""The suites of ``hnn eval`` beside the retrieval protocols: protocol (c) on the hub corpus
(``--suite hub``) and the robustness suite (``--suite robustness``,
:mod:`hnnframe.robustness`), each with its typed options and its output."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hnnframe.commands.options import add_cache_option
from hnnframe.commands.output import print_json
from hnnframe.errors import HnnError
from hnnframe.reproduce import provenance
from hnnframe.reproduce.hub import run_hub


@dataclass(frozen=True)
class HubOptions:
    """``hnn eval --suite hub``: protocol (c) for one or more checkpoints."""

    checkpoints: list[str]
    zoo_cache: str | None
    variant_cache: str | None
    corpus_cache: str | None
    hub_out: str
    queries_per_group: int
    deletion_copies: int
    json: bool
    command_line: str

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> HubOptions:
        return cls(
            checkpoints=[args.checkpoint, *(args.compare or [])],
            zoo_cache=args.zoo_cache,
            variant_cache=args.variant_cache,
            corpus_cache=args.corpus_cache,
            hub_out=args.hub_out,
            queries_per_group=args.queries_per_group,
            deletion_copies=args.deletion_copies,
            json=args.json,
            command_line=args.command_line,
        )


@dataclass(frozen=True)
class RobustnessOptions:
    """``hnn eval --suite robustness``: the suite for one or more checkpoints, and where its
    results section goes (``command_line`` is the command that section names)."""

    checkpoints: list[str]
    zoo_cache: str | None
    k: int
    radius: int
    json: bool
    command_line: str
    transforms: str = "all"
    models: list[str] | None = None
    variant_cache: str | None = None
    corpus: bool = False
    corpus_cache: str | None = None
    holdout_only: bool = False
    protocols: bool = False
    write_results: str | None = None
    section: str | None = None
    title: str | None = None
    note: str | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RobustnessOptions:
        return cls(
            checkpoints=[args.checkpoint, *(args.compare or [])],
            zoo_cache=args.zoo_cache,
            k=args.k,
            radius=args.radius,
            json=args.json,
            command_line=args.command_line,
            transforms=args.transforms,
            models=args.models,
            variant_cache=args.variant_cache,
            corpus=args.corpus,
            corpus_cache=args.corpus_cache,
            holdout_only=args.holdout_only,
            protocols=args.protocols,
            write_results=args.write_results,
            section=args.section,
            title=args.title,
            note=args.note,
        )


# -- protocol (c) ------------------------------------------------------------------------------
def run_hub_suite(opts: HubOptions) -> int:
    """Protocol (c) for the checkpoint(s) beside the WL baselines."""
    from hnnframe.hashing import Hasher
    from hnnframe.protocol_c.report import hub_markdown

    labels = []
    for path in opts.checkpoints:
        h = Hasher.from_checkpoint(path)
        labels.append((f"{h.recipe.get('name', 'hnn')} ({Path(path).parent.name})", path))
    bits = sorted({Hasher.from_checkpoint(p).bits for p in opts.checkpoints})
    res = run_hub(
        opts.hub_out,
        [],
        corpus_cache=opts.corpus_cache,
        variant_cache=opts.variant_cache,
        zoo_cache=opts.zoo_cache,
        queries_per_group=opts.queries_per_group or None,
        deletion_copies=opts.deletion_copies,
        wl_bits=bits,
        checkpoints=labels,
        progress=not opts.json,
    )
    if opts.json:
        print_json(res)
        return 0
    print(
        hub_markdown(
            res["rows"],
            provenance_line=provenance(opts.command_line),
            corpus=res["corpus"],
            split=res["split"],
            queries=res["queries"],
        )
    )
    return 0


# -- the robustness suite ---------------------------------------------------------------
def print_table(label: str, bits: int, rows: list[dict[str, Any]]) -> None:
    from hnnframe.robustness import fmt_cell, goal_met

    print(f"{label}  (Q = {bits})")
    print(
        f"{'transform':<16} {'listed':<6} {'n':>3} {'fail':>4} {'med d':>6} {'mean d':>6} "
        f"{'max d':>5} {'d=0':>5} {'NN own':>6} {'NN cat':>6} {'class':>6} {'same G':>6} goal"
    )
    for r in rows:
        goal = goal_met(r, bits, rows)
        mean = "-" if r["hamming_mean"] is None else f"{r['hamming_mean']:.2f}"
        print(
            f"{r['transform']:<16} {'yes' if r['listed'] else 'no':<6} {r['models']:>3} "
            f"{r['failed']:>4} {fmt_cell(r['hamming_median']):>6} {mean:>6} "
            f"{fmt_cell(r['hamming_max']):>5} {fmt_cell(r['hamming_zero'], True):>5} "
            f"{fmt_cell(r['nn_own'], True):>6} {fmt_cell(r['nn_category'], True):>6} "
            f"{fmt_cell(r['class_ok'], True):>6} {fmt_cell(r['same_graph'], True):>6} "
            f"{'-' if goal is None else ('met' if goal else 'MISSED')}"
        )


def robustness_results(
    opts: RobustnessOptions,
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """The suite's rows for every checkpoint, and their protocol (a)/(b) rows when asked."""
    from hnnframe.hashing import Hasher
    from hnnframe.robustness import protocol_rows, robustness_suite

    results = []
    protocols: dict[str, list[dict[str, Any]]] = {}
    for path in opts.checkpoints:
        hasher = Hasher.from_checkpoint(path)
        label = f"{hasher.recipe.get('name', 'hnn')} ({Path(path).parent.name})"
        queries = None
        if opts.holdout_only:
            queries = list(hasher.recipe.get("data", {}).get("holdout") or [])
            if not queries:
                raise HnnError(
                    f"{path}: --holdout-only needs a checkpoint trained with data.holdout"
                )
        rows = robustness_suite(
            hasher,
            opts.transforms,
            opts.zoo_cache,
            variant_cache=opts.variant_cache,
            query_models=queries,
            models=opts.models,
            progress=not opts.json,
            corpus=opts.corpus,
            corpus_cache=opts.corpus_cache,
        )
        results.append(
            {
                "checkpoint": str(path),
                "label": label,
                "bits": hasher.bits,
                "recipe": hasher.recipe.get("name", ""),
                "fingerprint": hasher.fingerprint,
                "rows": rows,
            }
        )
        if opts.protocols:
            protocols[label] = protocol_rows(hasher, opts.k, opts.radius, opts.zoo_cache)
    return results, protocols


def run_robustness(opts: RobustnessOptions) -> int:
    """The suite's tables (or JSON), and its section of ``opts.write_results`` when given."""
    results, protocols = robustness_results(opts)
    if opts.json:
        print_json({"results": results, "protocols": protocols})
    else:
        for res in results:
            print_table(f"{res['label']}: {res['checkpoint']}", res["bits"], res["rows"])
            for p in protocols.get(res["label"], []):
                print(
                    f"  protocol {p['protocol']}: mAP {p['mAP']:.3f}  "
                    f"P@{opts.k} {p[f'precision@{opts.k}']:.3f}"
                )
            print()
    if opts.write_results:
        write_robustness_section(opts, results, protocols)
    return 0


def write_robustness_section(
    opts: RobustnessOptions,
    results: list[dict[str, Any]],
    protocols: dict[str, list[dict[str, Any]]],
) -> None:
    from hnnframe.robustness import markdown_section, write_results

    default_title = (
        "Held-out architectures"
        if opts.holdout_only
        else "Hub corpus"
        if opts.corpus
        else "All zoo models"
    )
    notes = [opts.note or ""]
    if opts.holdout_only:
        notes.append(
            "Queries: variants of the architectures that the checkpoints were trained "
            "without (data.holdout); neither they nor their variants were seen in "
            "training. The database is the whole zoo."
        )
    note = " ".join(n for n in notes if n)
    section = opts.section or "main"
    text = markdown_section(
        results, opts.command_line, opts.title or default_title, note, protocols, opts.k
    )
    write_results(opts.write_results, section, text)
    if not opts.json:
        print(f"wrote the robustness section {section!r} of {opts.write_results}")


def add_suite_arguments(p: Any) -> None:
    """The robustness suite's own options of ``hnn eval``."""
    g = p.add_argument_group("robustness suite (--suite robustness)")
    g.add_argument(
        "--compare",
        action="append",
        metavar="CKPT",
        help="another checkpoint to report side by side (repeatable)",
    )
    g.add_argument(
        "--transforms",
        default="all",
        help="listed, unlisted, all (default) or a comma-separated list",
    )
    g.add_argument(
        "--models",
        type=lambda s: [m for m in s.split(",") if m],
        help="comma-separated zoo models for the database (default all of Table 1); "
        "with --corpus, the corpus keys whose variants are queried (default all)",
    )
    g.add_argument(
        "--corpus",
        action="store_true",
        help="the database is every architecture of the hub corpus (--corpus-cache) "
        "instead of the zoo, the queries the variants of --models",
    )
    add_cache_option(g, "variant")
    g.add_argument(
        "--holdout-only",
        action="store_true",
        help="query only the checkpoint's data.holdout architectures",
    )
    g.add_argument(
        "--protocols", action="store_true", help="also report retrieval protocols (a) and (b)"
    )
    g.add_argument("--write-results", metavar="MD", help="write a section of this markdown file")
    g.add_argument("--section", default="main", help="section name in the results block")
    g.add_argument("--title", help="section title")
    g.add_argument("--note", help="a paragraph for the section (how the checkpoints were made)")


def add_hub_arguments(p: Any) -> None:
    """Protocol (c)'s own options of ``hnn eval``."""
    h = p.add_argument_group("protocol (c) (--suite hub)")
    add_cache_option(h, "corpus")
    h.add_argument(
        "--hub-out",
        default="runs/hub-eval",
        help="where evaluations are cached (default runs/hub-eval)",
    )
    h.add_argument(
        "--queries-per-group",
        type=int,
        default=2,
        help="held-out architectures per group with tool-made copies (0: all)",
    )
    h.add_argument(
        "--deletion-copies",
        type=int,
        default=2,
        help="node-deletion copies per held-out architecture",
    )
