"""Reproduce the paper's experiments (section 4): Table 2, Figures 5-7, both protocols.

``hnn reproduce table2`` trains GHashing, HNN-Net without L_class and HNN-Net on raw and
merged data at Q = 16, 32 and 64 (18 runs, protocol (a)), plus the three methods on both data
variants at Q = 32 with five architectures held out (6 runs, protocol (b)), beside the
non-learned WL SimHash baseline. ``hnn reproduce fig7`` sweeps beta and gamma at Q = 32 on raw
data as in Figure 7. ``hnn reproduce recipes`` compares the candidate recipes of ``make demo``.

Modules: ``plans`` (the runs of each experiment and the paper's settings), ``runner``
(resumable runs in worker processes), ``report`` (provenance, results blocks, time lines) and
one module per block: ``table2`` (with Figures 5 and 6), ``fig7``, ``recipes``.
"""

from __future__ import annotations

from hnnframe.reproduce.fig7 import fig7_markdown_and_plot
from hnnframe.reproduce.plans import (
    BITS,
    DATA,
    FIG7_BETA,
    FIG7_GAMMA,
    GOAL_A_F1R2,
    GOAL_B_MAP,
    HOLDOUT,
    METHODS,
    PAPER_TABLE2,
    RECIPE_CANDIDATES,
    RECIPE_SEEDS,
    K,
    Run,
    fig7_runs,
    recipe_runs,
    table2_runs,
)
from hnnframe.reproduce.recipes import recipes_markdown
from hnnframe.reproduce.report import provenance, time_footer, wall_clock_line, write_block
from hnnframe.reproduce.runner import perfect_ranking_bounds, run_all
from hnnframe.reproduce.table2 import plot_table2, table2_markdown

__all__ = [
    "BITS",
    "DATA",
    "FIG7_BETA",
    "FIG7_GAMMA",
    "GOAL_A_F1R2",
    "GOAL_B_MAP",
    "HOLDOUT",
    "K",
    "METHODS",
    "PAPER_TABLE2",
    "RECIPE_CANDIDATES",
    "RECIPE_SEEDS",
    "Run",
    "fig7_markdown_and_plot",
    "fig7_runs",
    "perfect_ranking_bounds",
    "plot_table2",
    "provenance",
    "recipe_runs",
    "recipes_markdown",
    "run_all",
    "table2_markdown",
    "table2_runs",
    "time_footer",
    "wall_clock_line",
    "write_block",
]
