"""The suite's output: whether a row meets the goal, and the Markdown section with every
checkpoint side by side, written into the robustness block of ``docs/results.md``."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hnnframe.files import read_block, write_block

GOAL_NN_OWN = 0.95
GOAL_MEDIAN_BITS = 2.0


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
    lines += _table(results)
    lines += _misses(results)
    lines += _errors(results)
    if protocols:
        lines += _protocol_table(protocols, k)
    return "\n".join(lines)


def _table(results: list[dict[str, Any]]) -> list[str]:
    """One row per transformation, the checkpoints' columns side by side."""
    head = ["transform", "listed", "models"]
    for res in results:
        head += [f"{res['label']}: median d", "NN own", "NN category", "goal"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
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
    return lines


def _misses(results: list[dict[str, Any]]) -> list[str]:
    """A folded list of the variants whose nearest neighbour is another architecture."""
    misses = []
    for res in results:
        for r in res["rows"]:
            for d in r.get("details", []):
                if not d["own"]:
                    misses.append(
                        f"{res['label']}/{r['transform']}: {d['model']} -> "
                        f"{d['nearest']} (d = {d['hamming']})"
                    )
    if not misses:
        return []
    return [
        "",
        "<details><summary>Variants whose nearest neighbour is another "
        f"architecture ({len(misses)})</summary>",
        "",
        *[f"- {m}" for m in misses],
        "",
        "</details>",
    ]


def _errors(results: list[dict[str, Any]]) -> list[str]:
    """The variants that could not be produced, with why."""
    errors = {
        f"{r['transform']}: {m}": e
        for r in results[0]["rows"]
        for m, e in (r.get("errors") or {}).items()
    }
    if not errors:
        return []
    return [
        "",
        "Variants that could not be produced: "
        + "; ".join(f"{k} ({v})" for k, v in errors.items()),
    ]


def _protocol_table(protocols: dict[str, list[dict[str, Any]]], k: int) -> list[str]:
    """Protocols (a) and (b) of ``hnn eval`` on the same checkpoints."""
    lines = [
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
    return lines


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
