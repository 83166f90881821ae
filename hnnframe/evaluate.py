"""Retrieval metrics over Hamming ranking (paper section 4.1.4).

For each query the database is ranked by Hamming distance; ties are broken by the squared
Euclidean distance of the continuous embeddings (FC3), then by database index, so a ranking
is deterministic. An item is relevant when it has the query's label (category).

Metrics, each averaged over queries:

* precision@k, recall@k (relevant items in the top k over all relevant items in the database)
  and F1@k. The default k is 10, the ``top_k`` of GHashing's code (the paper's baseline); the
  paper does not state its k. With category relevance a query whose category has more than k
  database items cannot reach recall 1, which bounds F1@k (docs/results.md gives the bound).
* mAP over the full ranking;
* precision, recall and F1 within Hamming radius r (default 2; "hash lookup"): every database
  item within distance r is retrieved. A query that retrieves nothing scores 0 precision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hnnframe.codes import hamming_matrix


def rank(
    q_codes: np.ndarray,
    db_codes: np.ndarray,
    q_emb: np.ndarray | None = None,
    db_emb: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Database order per query (Hamming, then embedding distance, then index) and distances."""
    ham = hamming_matrix(q_codes, db_codes)
    if q_emb is not None and db_emb is not None:
        emb = ((q_emb[:, None, :] - db_emb[None, :, :]) ** 2).sum(-1)
    else:
        emb = np.zeros_like(ham, dtype=np.float64)
    idx = np.broadcast_to(np.arange(ham.shape[1]), ham.shape)
    order = np.lexsort((idx, emb, ham), axis=-1)
    return order, ham


@dataclass
class RetrievalResult:
    k: int
    precision: float
    recall: float
    f1: float
    map: float
    precision_r2: float
    recall_r2: float = 0.0
    f1_r2: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            f"precision@{self.k}": self.precision,
            f"recall@{self.k}": self.recall,
            f"f1@{self.k}": self.f1,
            "mAP": self.map,
            "precision@r2": self.precision_r2,
            "recall@r2": self.recall_r2,
            "f1@r2": self.f1_r2,
        }


def retrieval_metrics(
    q_codes: np.ndarray,
    q_labels: np.ndarray,
    db_codes: np.ndarray,
    db_labels: np.ndarray,
    k: int = 10,
    q_emb: np.ndarray | None = None,
    db_emb: np.ndarray | None = None,
    radius: int = 2,
) -> RetrievalResult:
    """Mean retrieval metrics of the queries against the database (see module docstring)."""
    if len(q_codes) == 0 or len(db_codes) == 0:
        return RetrievalResult(k, 0.0, 0.0, 0.0, 0.0, 0.0)
    order, ham = rank(q_codes, db_codes, q_emb, db_emb)
    rel = q_labels[:, None] == db_labels[None, :]
    rel_sorted = np.take_along_axis(rel, order, axis=1)
    n_rel = rel.sum(1)
    kk = min(k, db_codes.shape[0])
    hits = rel_sorted[:, :kk].sum(1)
    precision = hits / kk
    recall = np.where(n_rel > 0, hits / np.maximum(n_rel, 1), 0.0)
    f1 = np.where(
        precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0
    )
    cum = np.cumsum(rel_sorted, axis=1)
    ranks = np.arange(1, rel_sorted.shape[1] + 1)
    ap = np.where(n_rel > 0, (cum / ranks * rel_sorted).sum(1) / np.maximum(n_rel, 1), 0.0)
    within = ham <= radius
    n_within = within.sum(1)
    hits_r = (within & rel).sum(1)
    p_r2 = np.where(n_within > 0, hits_r / np.maximum(n_within, 1), 0.0)
    r_r2 = np.where(n_rel > 0, hits_r / np.maximum(n_rel, 1), 0.0)
    f1_r2 = np.where(p_r2 + r_r2 > 0, 2 * p_r2 * r_r2 / np.maximum(p_r2 + r_r2, 1e-12), 0.0)
    return RetrievalResult(
        k,
        float(precision.mean()),
        float(recall.mean()),
        float(f1.mean()),
        float(ap.mean()),
        float(p_r2.mean()),
        float(r_r2.mean()),
        float(f1_r2.mean()),
    )


# -- protocols ------------------------------------------------------------------------------------
def _labels(samples: Sequence[Any], categories: Sequence[str]) -> np.ndarray:
    index = {c: i for i, c in enumerate(categories)}
    return np.array([index.get(s.category, -1) for s in samples], dtype=np.int64)


def evaluate_protocols(
    coder: Callable[[list[Any]], dict[str, np.ndarray]],
    ds: Any,
    k: int = 10,
    radius: int = 2,
) -> dict[str, RetrievalResult]:
    """Retrieval metrics of a coder (graphs -> codes, embedding) on a dataset's protocols.

    * ``a``: the paper's protocol: the training copies are the database, the test copies of the
      same architectures are the queries (relevance: same category).
    * ``b``: unseen architectures: copies of the held-out architectures (``data.holdout``) are
      the queries against the same database (relevance: same category).
    """
    cats = sorted({s.category for s in [*ds.train, *ds.test, *ds.unseen]})
    db = coder([s.graph for s in ds.database])
    db_labels = _labels(ds.database, cats)
    out: dict[str, RetrievalResult] = {}
    for name, queries in (("a", ds.test), ("b", ds.unseen)):
        if not queries:
            continue
        q = coder([s.graph for s in queries])
        out[name] = retrieval_metrics(
            q["codes"],
            _labels(queries, cats),
            db["codes"],
            db_labels,
            k=k,
            q_emb=q.get("embedding"),
            db_emb=db.get("embedding"),
            radius=radius,
        )
    return out


def perfect_ranking(ds: Any, k: int = 10, radius: int = 2) -> dict[str, RetrievalResult]:
    """Both protocols' metrics for an oracle whose codes are the categories (an upper bound).

    With category relevance and a fixed k, a query whose category has more (or fewer) than k
    database items cannot reach recall (or precision) 1, so F1@k has a ceiling below 1 that
    depends only on the dataset.
    """
    samples = [*ds.train, *ds.test, *ds.unseen]
    cats = sorted({s.category for s in samples})
    cat_of = {s.graph.name: s.category for s in samples}

    def oracle(graphs: list[Any]) -> dict[str, np.ndarray]:
        # 4 bits per category: categories are 8 bits apart, beyond any radius-2 lookup.
        codes = np.zeros((len(graphs), 4 * len(cats)), dtype=np.uint8)
        for i, g in enumerate(graphs):
            c = cats.index(cat_of[g.name])
            codes[i, 4 * c : 4 * c + 4] = 1
        return {"codes": codes, "embedding": np.zeros((len(graphs), 1), np.float32)}

    return evaluate_protocols(oracle, ds, k=k, radius=radius)
