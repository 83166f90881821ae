"""Protocol (c) figures as tuning objectives (``tune.metric: hub/unique`` and the like).

A study can search the instance-level objectives' weights and Q on what the job needs: the
unique-code share, the worst transformation's own-architecture share, family top-1 or the
verification AUC of protocol (c) (:mod:`hnnframe.protocol_c`), beside the unseen/mAP of
protocol (b). The corpus split and the held-out copies are built once per worker; each trial's
checkpoint is then evaluated on them after training (these figures have no intermediate
values, so the pruner does not act on them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from hnnframe.corpus import load_corpus, split_corpus
from hnnframe.hashing import Hasher
from hnnframe.protocol_c import CheckpointCoder, evaluate_coder, hub_queries
from hnnframe.reproduce.hub import query_arches
from hnnframe.tune.settings import HUB_FIGURES
from hnnframe.variants import copy_transforms


class HubFigures:
    """``checkpoint -> {"hub/<figure>": value}`` on one fixed protocol (c) setting."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        h = dict(options)
        entries = load_corpus(h.get("corpus_cache"))
        self.split = split_corpus(entries, h.get("holdout"))
        idx = query_arches(self.split, int(h.get("queries_per_group", 2)) or None)
        names = h.get("transforms")
        queries, _ = hub_queries(
            entries,
            idx,
            copy_transforms() if names is None else names,
            deletion_copies=0,
            variant_cache=h.get("variant_cache"),
            progress=False,
        )
        dels, _ = hub_queries(
            entries, self.split.test, [], deletion_copies=int(h.get("deletion_copies", 2))
        )
        self.queries = queries + dels

    def __call__(self, checkpoint: str | os.PathLike[str]) -> dict[str, float]:
        coder = CheckpointCoder(Hasher.from_checkpoint(checkpoint))
        row = evaluate_coder(coder, self.split, self.queries)
        return {f"hub/{k}": float(row[k]) for k in HUB_FIGURES}
