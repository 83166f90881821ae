"""Protocol (c)'s queries: transformed copies of every held-out architecture.

Each transformation of :mod:`hnnframe.variants` that applies to the architecture's source
(another exporter, BN folding, another opset, onnxsim, QDQ quantization, fp16, another input
size, wrappers, ...) gives one copy, made by the real tool and read back as an upload; random
node deletion (the paper's augmentation, section 4.1.3) gives ``deletion_copies`` more. A
transformation that does not apply, or whose tool fails, is recorded and skipped.

A derived transform (``Transform.derived``: a new head, one layer fewer, ...) gives a derived
architecture, not a copy: its query is marked ``derived`` and scored apart, by whether its
source architecture is nearest (:func:`~hnnframe.protocol_c.evaluate_coder`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hnnframe.corpus.store import CorpusEntry
from hnnframe.data.augment import delete_nodes
from hnnframe.ir import OpGraph

DELETION = "node_deletion"


@dataclass
class Query:
    """One copy: the database index of its architecture, how it was made, its raw graph;
    ``derived``: a derived architecture of ``arch`` (its source), not a copy."""

    arch: int
    transform: str
    graph: OpGraph = field(repr=False)
    derived: bool = False


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def hub_queries(
    entries: Sequence[CorpusEntry],
    test: Sequence[int],
    transforms: Sequence[str],
    *,
    deletion_copies: int = 2,
    delete_frac: float = 0.1,
    variant_cache: Any = None,
    progress: bool = True,
) -> tuple[list[Query], dict[str, dict[str, str]]]:
    """The queries of the held-out architectures ``test``, and the errors per transform."""
    from hnnframe.variants import build_variants, get_transform

    queries: list[Query] = []
    errors: dict[str, dict[str, str]] = {}
    if transforms:
        sources = [(entries[i].key, entries[i].spec) for i in test]
        built = build_variants(sources, list(transforms), variant_cache, progress=progress)
        for t in transforms:
            derived = get_transform(t).derived
            for i in test:
                v = built[(t, entries[i].key)]
                if v.ok and v.graph is not None:
                    queries.append(Query(i, t, v.graph, derived))
                else:
                    errors.setdefault(t, {})[entries[i].key] = v.error
    for i in test:
        for c in range(deletion_copies):
            g = delete_nodes(entries[i].graph, delete_frac, _seed(f"{entries[i].key}/{c}"))
            queries.append(Query(i, DELETION, g))
    return queries, errors
