"""The evaluation step's figures: the bits' behaviour and retrieval on protocols (a) and (b).

Logged at every evaluation epoch (docs/training.md lists them): the share of bits that flipped
since the previous evaluation, each bit's balance (a histogram) and its mean imbalance, and
precision@k, recall@k, F1@k, mAP and precision within Hamming radius 2 of the queries
(:func:`hnnframe.evaluate.retrieval_metrics`, ties broken by embedding distance).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hnnframe.data.inputs import Encoded
from hnnframe.evaluate import retrieval_metrics
from hnnframe.nn import infer

# The retrieval database: codes, embeddings and category ids of the training copies.
Database = tuple[np.ndarray, np.ndarray, np.ndarray]


def bit_scalars(
    codes: np.ndarray, prev_codes: np.ndarray | None, logger: Any, epoch: int
) -> dict[str, float]:
    """Flip rate against the previous evaluation's codes and mean imbalance of the bits; the
    per-bit balance goes to the logger as a histogram when it keeps histograms."""
    scalars: dict[str, float] = {}
    if prev_codes is not None:
        scalars["bits/flip_rate"] = float((codes != prev_codes).mean())
    balance = codes.mean(0)
    scalars["bits/imbalance"] = float(np.abs(balance - 0.5).mean())
    if hasattr(logger, "log_histogram"):
        logger.log_histogram("bits/balance", balance, epoch)
    return scalars


def query_scalars(
    model: Any, queries: Encoded, prefix: str, database: Database, k: int, device: str
) -> dict[str, float]:
    """``prefix/<metric>`` of ``queries`` against ``database`` (nothing without queries); for
    the validation queries also their classification accuracy."""
    if not queries.graphs:
        return {}
    db_codes, db_emb, db_labels = database
    q = infer(model, queries.graphs, device)
    q_labels = queries.labels.numpy()
    res = retrieval_metrics(
        q["codes"], q_labels, db_codes, db_labels, k=k, q_emb=q["embedding"], db_emb=db_emb
    )
    scalars = {f"{prefix}/{key}": v for key, v in res.as_dict().items()}
    if prefix == "val":
        scalars["val/accuracy"] = float((q["pred"] == q_labels).mean())
    return scalars
