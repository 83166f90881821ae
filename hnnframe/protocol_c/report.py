"""Protocol (c)'s results block of docs/results.md and its distance-histogram plot."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hnnframe.protocol_c.evaluate import GOALS, goals_met


def _pct(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def _num(x: float, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def hub_markdown(
    rows: Sequence[dict[str, Any]],
    *,
    provenance_line: str,
    corpus: dict[str, Any],
    split: dict[str, Any],
    queries: dict[str, Any],
    notes: Sequence[str] = (),
    plot: str | None = None,
) -> str:
    """The protocol (c) block: the setting, one row per coder and Q, per-transform shares."""
    lines = [
        "## Protocol (c): copy detection among the hub corpus's architectures, families held out",
        "",
        provenance_line,
        f"Corpus: {corpus['architectures']} distinct architectures in {corpus['families']} "
        f"families ({corpus['groups']} family groups) from {corpus['sources']}; the database "
        "holds one entry per architecture, the 21 zoo models included. Held out of training: "
        f"{len(split['test_groups'])} groups, {split['test_archs']} architectures "
        f"({', '.join(split['test_groups'])}); training: {len(split['train_groups'])} groups, "
        f"{split['train_archs']} architectures. Queries: {queries['total']} copies of the "
        f"held-out architectures ({queries['summary']}).",
        "",
        "Hamming distance only; a tie at the minimum distance counts as its expected value under "
        "a random tie break (k tied entries, one right: 1/k). No embedding tie break. Goals "
        f"(instance-level hashing issue): worst transformation's own-architecture share >= "
        f"{GOALS['own_top1_worst']:.0%}, unique codes >= {GOALS['unique']:.0%}, pairs at d = 0 "
        f"<= {GOALS['pairs_d0']:.1%}, family top-1 >= {GOALS['family_top1']}, AUC >= "
        f"{GOALS['auc']}.",
        "",
        "| coder | Q | own arch (all copies) | worst transform | unique codes | pairs d=0 | "
        "pairs d<=2 | family top-1 | AUC | goals met |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        met = goals_met(r)
        lines.append(
            f"| {r['name']} | {r['bits']} | {_pct(r['own_top1'])} | {_pct(r['own_top1_worst'])} "
            f"({r['worst_transform']}) | {_pct(r['unique'])} | {_pct(r['pairs_d0'])} | "
            f"{_pct(r['pairs_d2'])} | {_num(r['family_top1'])} | {_num(r['auc'], 4)} | "
            f"{sum(met.values())}/{len(met)} |"
        )
    transforms = list(dict.fromkeys(t for r in rows for t in r["per_transform"]))
    lines += [
        "",
        "Own-architecture share per transformation (copies per transformation in the header):",
        "",
        *_coder_table(
            rows,
            {t: rows[0]["per_transform"].get(t, {}).get("copies", 0) for t in transforms},
            lambda r, t: r["per_transform"].get(t, {}).get("own_top1"),
        ),
    ]
    if queries.get("errors"):
        lines += [
            "",
            "Copies that could not be made (transform: architectures): "
            + "; ".join(f"{t}: {len(v)}" for t, v in queries["errors"].items()),
        ]
    lines += derived_lines(rows, queries.get("derived") or {})
    for note in notes:  # paragraphs (or tables), each its own block
        lines += ["", note]
    if plot:
        lines += ["", f"![Protocol (c) distance histograms]({plot})"]
    return "\n".join(lines) + "\n"


def _coder_table(
    rows: Sequence[dict[str, Any]],
    columns: dict[str, int],
    share: Callable[[dict[str, Any], str], float | None],
) -> list[str]:
    """A table of one share per coder (a row) and column (with its query count in the
    header): the copies' per transformation, the derived architectures' per kind."""
    lines = [
        "| coder | Q | " + " | ".join(f"{c} ({n})" for c, n in columns.items()) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for r in rows:
        cells = [_pct(share(r, c)) for c in columns]
        lines.append(f"| {r['name']} | {r['bits']} | " + " | ".join(cells) + " |")
    return lines


def derived_lines(rows: Sequence[dict[str, Any]], derived: dict[str, Any]) -> list[str]:
    """The derived architectures' table: per coder and kind, the share whose source
    architecture is nearest; nothing when no row has any (rows cached before they existed)."""
    kinds = list(dict.fromkeys(k for r in rows for k in r.get("derived") or {}))
    if not kinds:
        return []
    count = derived.get("per_kind", {})
    lines = [
        "",
        'Derived architectures, not copies (docs/robustness.md, "Derived architectures"): '
        f"{derived.get('summary', '')}. Share whose source architecture is nearest (Hamming, "
        "ties 1/k; queries per kind in the header); no copy figure above counts them:",
        "",
        *_coder_table(
            rows,
            {k: count.get(k, 0) for k in kinds},
            lambda r, k: (r.get("derived") or {}).get(k, {}).get("source_top1"),
        ),
    ]
    if derived.get("errors"):
        lines += [
            "",
            "Derived architectures that could not be made (kind: architectures): "
            + "; ".join(f"{t}: {len(v)}" for t, v in derived["errors"].items()),
        ]
    return lines


#: The figures the instance-level hashing issue's goals are set on, and their direction.
FIGURES = (
    ("own_top1_worst", "own arch, worst transform", True),
    ("own_top1", "own arch, all copies", True),
    ("unique", "unique codes", True),
    ("pairs_d0", "pairs at d = 0", False),
    ("family_top1", "family top-1", True),
    ("auc", "verification AUC", True),
)


def goal_table(rows: Sequence[dict[str, Any]], name: str, bits: int) -> list[str]:
    """The recommended recipe at its Q against the goals and both WL baselines at that Q:
    one line per figure, with whether it meets the goal and beats both baselines."""
    at = {r["name"]: r for r in rows if r["bits"] == bits}
    rec = at.get(name)
    raw, canon = at.get("WL SimHash, raw graphs"), at.get("WL SimHash, canonical graphs")
    if rec is None or raw is None or canon is None:
        return []
    fmt = {"auc": lambda x: _num(x, 4), "family_top1": _num}
    lines = [
        f"The recommended recipe ({name}, Q = {bits}) against the goals and both WL "
        "baselines at the same Q:",
        "",
        "| figure | recipe | WL raw | WL canonical | goal | goal met | beats both |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label, higher in FIGURES:
        show = fmt.get(key, _pct)
        v, a, b = rec[key], raw[key], canon[key]
        beats = (v > a and v > b) if higher else (v < a and v < b)
        goal = GOALS.get(key)
        met = "-" if goal is None else ("yes" if (v >= goal if higher else v <= goal) else "no")
        goal_s = "-" if goal is None else ((">= " if higher else "<= ") + show(goal))
        lines.append(
            f"| {label} | {show(v)} | {show(a)} | {show(b)} | {goal_s} | {met} | "
            f"{'yes' if beats else 'no'} |"
        )
    return lines


def plot_histograms(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """One panel per coder at its largest Q: copy-to-own against copy-to-other distances."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    best: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["name"] not in best or r["bits"] > best[r["name"]]["bits"]:
            best[r["name"]] = r
    panels = list(best.values())
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, r in zip(axes[0], panels, strict=True):
        own, other = np.asarray(r["hist_own"]), np.asarray(r["hist_other"])
        x = np.arange(len(own))
        ax.bar(x, own / max(own.sum(), 1), width=1.0, alpha=0.6, label="copy vs own arch")
        ax.bar(x, other / max(other.sum(), 1), width=1.0, alpha=0.6, label="copy vs other archs")
        ax.set_title(f"{r['name']} (Q = {r['bits']})", fontsize=9)
        ax.set_xlabel("Hamming distance")
        ax.set_xlim(-0.5, len(own) - 0.5)
    axes[0][0].set_ylabel("share of pairs")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
