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

from hnnframe.robustness.report import (
    GOAL_MEDIAN_BITS,
    GOAL_NN_OWN,
    fmt_cell,
    goal_met,
    markdown_section,
    write_results,
)
from hnnframe.robustness.suite import protocol_rows, resolve_transforms, robustness_suite

__all__ = [
    "GOAL_MEDIAN_BITS",
    "GOAL_NN_OWN",
    "fmt_cell",
    "goal_met",
    "markdown_section",
    "protocol_rows",
    "resolve_transforms",
    "robustness_suite",
    "write_results",
]
