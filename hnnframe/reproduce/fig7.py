"""The Figure 7 block and figure (beta and gamma sweeps), from the results of
:func:`~hnnframe.reproduce.plans.fig7_runs`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hnnframe.reproduce.plans import K
from hnnframe.reproduce.report import provenance


def fig7_markdown_and_plot(
    results: Sequence[dict[str, Any]], command: str, docs: Path, epochs: int
) -> str:
    """The Figure 7 table, and the figure written to ``docs/fig7.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    lines = [
        "## Figure 7: beta and gamma at Q = 32, raw data, protocol (a)",
        "",
        provenance(command),
        f"{epochs} epochs per run; alpha = 10 and the other weight at the paper's value.",
        "",
        f"| sweep | value | P@{K} | R@{K} | F1@{K} | mAP |",
        "|---|---|---|---|---|---|",
    ]
    for ax, sweep in zip(axes, ("beta", "gamma"), strict=True):
        rs = sorted((r for r in results if r["sweep"] == sweep), key=lambda r: r["value"])
        xs = [r["value"] for r in rs]
        for name, key in (
            ("recall", f"recall@{K}"),
            ("precision", f"precision@{K}"),
            ("F1", f"f1@{K}"),
        ):
            ax.plot(range(len(xs)), [r["metrics"]["a"][key] for r in rs], marker="o", label=name)
        ax.set_xticks(range(len(xs)), [str(x) for x in xs])
        ax.set_xlabel(sweep)
        ax.set_title(f"varying {sweep} (Fig. 7{'ab'[sweep == 'gamma']})")
        ax.grid(alpha=0.3)
        for r in rs:
            m = r["metrics"]["a"]
            lines.append(
                f"| {sweep} | {r['value']} | {m[f'precision@{K}']:.3f} | {m[f'recall@{K}']:.3f} | "
                f"{m[f'f1@{K}']:.3f} | {m['mAP']:.3f} |"
            )
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(docs / "fig7.png", dpi=110)
    plt.close(fig)
    lines += ["", "![Figure 7](fig7.png)", ""]
    return "\n".join(lines)
