"""The Table 2 block (both protocols, with the WL baseline and the perfect-ranking ceiling)
and Figures 5 and 6, from the results of :func:`~hnnframe.reproduce.plans.table2_runs`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hnnframe.reproduce.plans import BITS, DATA, HOLDOUT, METHODS, PAPER_TABLE2, K
from hnnframe.reproduce.report import provenance, time_footer


def _cell(r: dict[str, Any] | None, prot: str, metric: str) -> float | None:
    """A run's metric on a protocol, None when the run or the protocol is missing."""
    if r is None or prot not in r["metrics"]:
        return None
    return r["metrics"][prot].get(metric)


_METRIC_KEYS = {"recall": f"recall@{K}", "precision": f"precision@{K}", "f1": f"f1@{K}"}


def table2_markdown(
    results: Sequence[dict[str, Any]],
    command: str,
    epochs: int,
    bounds: dict[str, dict[str, float]] | None = None,
) -> str:
    """Table 2 (protocol a: ours / paper per cell, mAP and radius-2 lookup) and the protocol
    (b) table, beside the WL baseline and, given ``bounds``, the perfect-ranking ceiling."""
    by = {(r["method"], r["data"], r["bits"], r["protocol"]): r for r in results}
    cols = [(d, b) for d in DATA for b in BITS]
    lines = [
        "## Table 2: protocol (a), augmented copies of training architectures",
        "",
        provenance(command),
        f"Each cell: ours / paper. Top-{K}, relevance = same category, ties broken by embedding",
        f"distance; {epochs} epochs per run. Queries: the 2 test copies of each of the 21 models;",
        "database: their 8 training copies.",
        "",
        "| method | metric | " + " | ".join(f"{d} {b}" for d, b in cols) + " |",
        "|---|---|" + "---|" * len(cols),
    ]
    lines += _topk_rows(results, by, cols, bounds)
    lines += _lookup_table(results, by, cols)
    lines += _protocol_b_table(by, bounds)
    return "\n".join([*lines, *time_footer(results)])


def _wl_run(results: Sequence[dict[str, Any]], d: str, b: int) -> dict[str, Any] | None:
    """Any protocol (a) run with this data and Q: the WL baseline is one per (data, bits)."""
    return next(
        (r for r in results if r["data"] == d and r["bits"] == b and r["protocol"] == "a"),
        None,
    )


def _topk_rows(
    results: Sequence[dict[str, Any]],
    by: dict[tuple[str, str, int, str], dict[str, Any]],
    cols: list[tuple[str, int]],
    bounds: dict[str, dict[str, float]] | None,
) -> list[str]:
    """Protocol (a)'s top-K rows: each method (ours / paper), the WL baseline, the ceiling."""
    lines = []
    for method, label in METHODS.items():
        for metric, key in _METRIC_KEYS.items():
            cells = []
            for i, (d, b) in enumerate(cols):
                v = _cell(by.get((method, d, b, "a")), "a", key)
                paper = PAPER_TABLE2[method][metric][i]
                cells.append(f"{v:.3f} / {paper:.3f}" if v is not None else f"- / {paper:.3f}")
            lines.append(f"| {label} | {metric} | " + " | ".join(cells) + " |")
    for metric, key in _METRIC_KEYS.items():
        cells = []
        for d, b in cols:
            r = _wl_run(results, d, b)
            cells.append(f"{r['wl']['a'][key]:.3f}" if r else "-")
        lines.append(f"| WL SimHash (no training) | {metric} | " + " | ".join(cells) + " |")
    if bounds and "a" in bounds:
        for metric, key in _METRIC_KEYS.items():
            row = " | ".join(f"{bounds['a'][key]:.3f}" for _ in cols)
            lines.append(f"| perfect ranking (ceiling) | {metric} | {row} |")
    return lines


def _lookup_table(
    results: Sequence[dict[str, Any]],
    by: dict[tuple[str, str, int, str], dict[str, Any]],
    cols: list[tuple[str, int]],
) -> list[str]:
    """The ceiling's note, then protocol (a)'s mAP and Hamming-radius-2 lookup table."""
    lines = [
        "",
        f"The ceiling row is an oracle whose codes are the categories: with top-{K} and category",
        "relevance, categories with 24 or 16 training copies cannot reach recall 1 and those with 8",
        f"cannot reach precision 1, so F1@{K} cannot exceed that value for any method.",
        "",
        "mAP and Hamming-radius-2 lookup (precision / recall / F1), protocol (a):",
        "",
        "| method | " + " | ".join(f"{d} {b}" for d, b in cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for method, label in [*METHODS.items(), ("wl", "WL SimHash")]:
        cells = []
        for d, b in cols:
            if method == "wl":
                r = _wl_run(results, d, b)
                m = r["wl"]["a"] if r else None
            else:
                r = by.get((method, d, b, "a"))
                m = r["metrics"]["a"] if r else None
            cells.append(
                f"{m['mAP']:.3f}; {m['precision@r2']:.2f}/{m['recall@r2']:.2f}/{m['f1@r2']:.2f}"
                if m
                else "-"
            )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _protocol_b_table(
    by: dict[tuple[str, str, int, str], dict[str, Any]],
    bounds: dict[str, dict[str, float]] | None,
) -> list[str]:
    """Protocol (b): the held-out architectures' copies against the other models'."""
    lines = [
        "",
        "## Protocol (b): unseen architectures",
        "",
        f"Held out of training: {', '.join(HOLDOUT)}. Their 10 copies each are the queries against",
        "the training copies of the other 16 models; relevance = same category. Q = 32.",
        "",
        f"| method | data | P@{K} | R@{K} | F1@{K} | mAP | F1@r2 | WL mAP |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for method, label in METHODS.items():
        for d in DATA:
            r = by.get((method, d, 32, "b"))
            if not r or "b" not in r["metrics"]:
                continue
            m, w = r["metrics"]["b"], r["wl"].get("b", {})
            lines.append(
                f"| {label} | {d} | {m[f'precision@{K}']:.3f} | {m[f'recall@{K}']:.3f} | {m[f'f1@{K}']:.3f} | "
                f"{m['mAP']:.3f} | {m['f1@r2']:.3f} | {w.get('mAP', float('nan')):.3f} |"
            )
    if bounds and "b" in bounds:
        m = bounds["b"]
        lines.append(
            f"| perfect ranking (ceiling) | - | {m[f'precision@{K}']:.3f} | {m[f'recall@{K}']:.3f} | "
            f"{m[f'f1@{K}']:.3f} | {m['mAP']:.3f} | {m['f1@r2']:.3f} | - |"
        )
    return lines


def plot_table2(results: Sequence[dict[str, Any]], docs: Path) -> list[Path]:
    """Figures 5 (F1 vs Q per method) and 6 (raw vs merged data) into ``docs``; their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by = {(r["method"], r["data"], r["bits"]): r for r in results if r["protocol"] == "a"}
    metrics = [("recall", f"recall@{K}"), ("precision", f"precision@{K}"), ("F1", f"f1@{K}")]
    paths = []
    # Figure 5: metric vs Q per method, one panel per data variant.
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, d in zip(axes, DATA, strict=True):
        for method, label in METHODS.items():
            ys = [
                by[(method, d, b)]["metrics"]["a"][f"f1@{K}"]
                if (method, d, b) in by
                else float("nan")
                for b in BITS
            ]
            ax.plot(BITS, ys, marker="o", label=label)
        ax.set_title(f"F1@{K} vs Q, {d} data (Fig. 5{'ab'[list(DATA).index(d)]})")
        ax.set_xlabel("Q (bits)")
        ax.set_xticks(BITS)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"F1@{K}")
    axes[0].legend()
    fig.tight_layout()
    paths.append(docs / "fig5.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    # Figure 6: raw vs merged per method.
    fig, axes = plt.subplots(1, 3, figsize=(14, 4), sharey=True)
    for ax, (method, label) in zip(axes, METHODS.items(), strict=True):
        for d in DATA:
            for name, key in metrics:
                ys = [
                    by[(method, d, b)]["metrics"]["a"][key]
                    if (method, d, b) in by
                    else float("nan")
                    for b in BITS
                ]
                ax.plot(
                    BITS,
                    ys,
                    marker="o",
                    linestyle="-" if d == "merged" else "--",
                    label=f"{name}, {d}",
                )
        ax.set_title(f"{label} (Fig. 6)")
        ax.set_xlabel("Q (bits)")
        ax.set_xticks(BITS)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    paths.append(docs / "fig6.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths
