"""Protocol (c): copy detection among hundreds of architectures, families held out.

Database: one entry per architecture of the hub corpus (:mod:`hnnframe.corpus`). Queries:
transformed copies of the architectures of held-out family groups. Hamming distance only, a
tie counting as its expected value under a random tie break. docs/evaluation.md explains the
protocol; ``hnn reproduce hub`` writes its block of docs/results.md.
"""

from hnnframe.corpus.split import DEFAULT_HOLDOUT, Split, split_corpus
from hnnframe.protocol_c.coders import CheckpointCoder, WLCoder
from hnnframe.protocol_c.evaluate import GOALS, evaluate_coder, goals_met
from hnnframe.protocol_c.queries import DELETION, Query, hub_queries

__all__ = [
    "CheckpointCoder",
    "DEFAULT_HOLDOUT",
    "DELETION",
    "GOALS",
    "Query",
    "Split",
    "WLCoder",
    "evaluate_coder",
    "goals_met",
    "hub_queries",
    "split_corpus",
]
