"""The coders protocol (c) compares: raw graphs in, one 0/1 code per graph out.

* :class:`WLCoder` with ``canonical=False``: WL SimHash on raw graphs, op labels (the
  non-learned baseline of :mod:`hnnframe.baselines`);
* :class:`WLCoder` with ``canonical=True``: WL SimHash on hnnframe's canonicalised graphs
  (ROBUST_PASSES and the robust recipe's merge rules), node labels carrying the FLOP and
  parameter digits;
* :class:`CheckpointCoder`: a trained checkpoint, through its own recipe's pipeline.

Each is a :class:`GraphCoder`: besides ``coder(graphs)`` it hashes graphs as a hasher does
(:meth:`GraphCoder.hash_many`), so that :func:`hnnframe.upload.describe_uploads` describes the
database and the copies the way ``hnn index add`` and ``check`` describe uploads, and the
index (:mod:`hnnframe.protocol_c.retrieval`) stores and searches them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from hnnframe.codes import pack_code
from hnnframe.hashing import HashResult
from hnnframe.ir import OpGraph
from hnnframe.presets import ROBUST_MERGE, ROBUST_PASSES

# Canonicalising a large graph takes a good fraction of a second, and several coders of one
# run share a pipeline (the canonical WL baseline and the robust recipes): prepare each graph
# once per pipeline. Keyed by the graph object, which the caller keeps alive for the run.
_PREPARED: dict[tuple[int, str], OpGraph] = {}


def _section_key(graph_cfg: dict[str, Any]) -> str:
    import json

    return json.dumps(graph_cfg, sort_keys=True, default=str)


def prepared(graph: OpGraph, graph_cfg: dict[str, Any]) -> OpGraph:
    """``graph`` through a recipe's ``graph`` section, computed once per (graph, section)."""
    from hnnframe.pipeline import prepare_graph

    key = (id(graph), _section_key(graph_cfg))
    if key not in _PREPARED:
        g = prepare_graph(graph, graph_cfg)[0]
        g.name = graph.name
        _PREPARED[key] = g
    return _PREPARED[key]


def prepared_all(
    graphs: Sequence[OpGraph],
    graph_cfg: dict[str, Any],
    progress: bool = False,
    desc: str = "canonical graphs",
) -> list[OpGraph]:
    """:func:`prepared` of every graph, with a progress bar over those not prepared yet
    (canonicalising the corpus and its copies takes minutes)."""
    from tqdm import tqdm

    key = _section_key(graph_cfg)
    todo = sum((id(g), key) not in _PREPARED for g in graphs)
    bar = tqdm(total=todo, desc=desc, unit="graph", disable=not progress or todo < 50)
    out = []
    for g in graphs:
        fresh = (id(g), key) not in _PREPARED
        out.append(prepared(g, graph_cfg))
        bar.update(int(fresh))
    bar.close()
    return out


def clear_prepared() -> None:
    _PREPARED.clear()


class GraphCoder:
    """A coder of in-memory graphs (``coder(graphs)``: one 0/1 code per graph), and the
    structural hasher :func:`hnnframe.upload.describe_uploads` takes.

    Attributes:
        bits: Q, the code's length.
        key: A short name of the coder.
        fingerprint: What an index of its codes is bound to (no two coders' codes compare).
    """

    bits: int
    key: str

    def __call__(self, graphs: Sequence[OpGraph]) -> np.ndarray:
        raise NotImplementedError

    @property
    def fingerprint(self) -> str:
        return f"protocol-c:{self.key}:{self.bits}"

    def hash_many(
        self,
        sources: Sequence[OpGraph],
        progress: bool = False,
        *,
        errors: str = "raise",
        shas: Sequence[str | None] | None = None,
    ) -> list[HashResult]:
        """One hash result per graph, all coded in one call: the packed code (zero-padded to
        whole bytes, which adds nothing to a Hamming distance), no file, no weights."""
        graphs = list(sources)
        codes = np.asarray(self(graphs), dtype=np.uint8) if graphs else []
        out = []
        for g, c in zip(graphs, codes, strict=True):
            code = pack_code(c)
            out.append(
                HashResult(
                    path=f"graph:{g.name}",
                    name=g.name,
                    sha256=None,
                    code=code,
                    bits=8 * len(code),
                    category="",
                    embedding=None,
                )
            )
        return out

    def iter_hash(
        self,
        sources: Sequence[OpGraph],
        chunk: int = 32,
        progress: bool = False,
        shas: Sequence[str | None] | None = None,
    ) -> Iterator[list[HashResult]]:
        """:meth:`hash_many` in chunks of ``chunk`` graphs."""
        graphs = list(sources)
        for i in range(0, len(graphs), chunk):
            yield self.hash_many(graphs[i : i + chunk])


class WLCoder(GraphCoder):
    def __init__(
        self, bits: int, canonical: bool, iterations: int = 3, progress: bool = False
    ) -> None:
        from hnnframe.baselines import WLSimHash

        self.bits = bits
        self.progress = progress
        self.canonical = canonical
        self.name = "WL SimHash, canonical graphs" if canonical else "WL SimHash, raw graphs"
        self.key = "wl_canonical" if canonical else "wl_raw"
        self.wl = WLSimHash(bits, iterations, labels="op_digits" if canonical else "op")

    def __call__(self, graphs: Sequence[OpGraph]) -> np.ndarray:
        if self.canonical:
            cfg = {"canonical": list(ROBUST_PASSES), "merge": ROBUST_MERGE}
            graphs = prepared_all(graphs, cfg, self.progress)
        return self.wl.codes(list(graphs))["codes"]


class CheckpointCoder(GraphCoder):
    """A trained checkpoint: the recipe's canonicalisation and merge rules, then HashNet.

    ``part`` picks the code of a hybrid recipe apart: ``all`` (the code the index stores),
    ``learned`` (the network's bits) or ``structural`` (the WL SimHash bits).
    """

    PARTS = {"all": "codes", "learned": "learned_codes", "structural": "structural_codes"}

    def __init__(
        self, hasher: Any, name: str | None = None, part: str = "all", progress: bool = False
    ) -> None:
        self.hasher = hasher
        self.part = part
        self.progress = progress
        learned = int(hasher.bits) - int(getattr(hasher, "structural_bits", 0))
        self.bits = {
            "all": int(hasher.bits),
            "learned": learned,
            "structural": int(hasher.bits) - learned,
        }[part]
        base = name or str(hasher.recipe.get("name", "hnn"))
        self.name = base if part == "all" else f"{base}: {part} part"
        self.key = self.name

    @property
    def fingerprint(self) -> str:
        """The checkpoint's (a part of a hybrid code is another code)."""
        fp = str(self.hasher.fingerprint)
        return fp if self.part == "all" else f"{fp}:{self.part}"

    def __call__(self, graphs: Sequence[OpGraph]) -> np.ndarray:
        cfg = dict(self.hasher.recipe.get("graph", {}))
        out = self.hasher.hash_graphs(prepared_all(graphs, cfg, self.progress))
        return out[self.PARTS[self.part]] if self.part != "all" else out["codes"]
