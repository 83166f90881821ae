"""The exact-architecture tier: indexed models whose canonical graph, or whose config's
architecture fields, have the upload's digest (docs/index-guide.md, "Same architecture").

Each record stores ``graph_digest`` (:func:`hnnframe.hashing.graph_digest` of the graph the
index's checkpoint hashed, after its recipe's canonicalisation and merge rules) and, for a
config source, ``config_digest`` (:mod:`hnnframe.frontends.hf_arch`). Both columns are
indexed, so the look-up is exact and costs one indexed query whatever the index's size. Two
names for one network (timm's and torchvision's ``efficientnet_b0``) canonicalise to one graph
and so are one architecture here. A record added before schema 3 has neither digest and never
matches on this tier until ``hnn index rehash`` fills them in.
"""

from __future__ import annotations

from typing import Any

from hnnframe.index.records import IndexRecord
from hnnframe.index.store import Store

#: The digest columns, in the order of :func:`digests_of`.
DIGESTS = ("graph_digest", "config_digest")


def digests_of(model: Any) -> tuple[str | None, str | None]:
    """``(graph_digest, config_digest)`` of a hash result or record (``None`` where it has
    none: a ``hex:`` query, a record added before schema 3)."""
    return getattr(model, "graph_digest", None), getattr(model, "config_digest", None)


def arch_ids(store: Store, digests: tuple[str | None, str | None]) -> set[int]:
    """Ids of the records with either digest (exact, indexed look-ups)."""
    out: set[int] = set()
    with store.transaction(write=False) as cur:
        for col, value in zip(DIGESTS, digests, strict=True):
            if value:
                cur.execute(store.q(f"SELECT id FROM hnn_models WHERE {col} = ?"), (value,))
                out.update(int(r[0]) for r in cur.fetchall())
    return out


def arch_records(store: Store, model: Any) -> list[IndexRecord]:
    """The records of ``model``'s architecture, in id order."""
    ids = arch_ids(store, digests_of(model))
    return list(store.get(sorted(ids)).values()) if ids else []


def set_digests(
    store: Store, cur: Any, rid: int, graph_digest: str | None, config_digest: str | None
) -> None:
    """Replace record ``rid``'s digests (inside a write transaction: ``hnn index rehash``)."""
    cur.execute(
        store.q("UPDATE hnn_models SET graph_digest = ?, config_digest = ? WHERE id = ?"),
        (graph_digest, config_digest, rid),
    )
