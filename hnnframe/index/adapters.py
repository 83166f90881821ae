"""``check`` of a PEFT adapter: the indexed models it can be applied to (issue 18).

An adapter holds no model of its own, so it is checked by what it fits
(:mod:`hnnframe.weights.adapter`): every indexed model whose architecture is known as a
transformers config (a snapshot directory, a config.json, a GGUF file, an ``hf:`` name, or
such a source given as the companion structure of a weights file) is built on the meta device
and tried against the adapter's module paths and shapes. Tensors an adapter saves whole
(``modules_to_save``) are compared with each candidate's stored tensor digests: a candidate
that holds them exactly is the base. The verdict is ``adapter for #N`` when one indexed model
is the base, ``adapter for one of #a, #b`` when several fit equally (the LoRA matrices alone
do not say which of several models with one config was adapted), and ``no indexed base``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hnnframe.errors import HnnError
from hnnframe.index.records import IndexRecord
from hnnframe.index.store import Store
from hnnframe.index.tiers import stored_fingerprints
from hnnframe.log import get_logger
from hnnframe.weights.adapter import Adapter, fits, parameter_shapes, read_adapter

log = get_logger(__name__)


@dataclass
class AdapterVerdict:
    """What ``check`` says of one adapter upload."""

    upload: str
    adapter: Adapter
    fits: list[IndexRecord]  # indexed models it can be applied to, best evidence first
    shared: dict[int, int]  # record id -> tensors saved whole that are the record's own

    @property
    def bases(self) -> list[IndexRecord]:
        """The indexed base: those holding the most of its whole tensors, else every fit."""
        best = max(self.shared.values(), default=0)
        if best:
            return [r for r in self.fits if self.shared.get(r.id, 0) == best]
        return self.fits

    @property
    def verdict(self) -> str:
        b = self.bases
        if not b:
            return "no indexed base"
        if len(b) == 1:
            return f"adapter for #{b[0].id}"
        return "adapter for one of " + ", ".join(f"#{r.id}" for r in b)

    @property
    def clean(self) -> bool:
        return not self.fits

    def fails(self, policy: str = "auto") -> bool:
        """An adapter of an indexed model is a derivative of it under every policy but
        ``none``."""
        return bool(self.bases) and policy != "none"

    def to_dict(self, policy: str = "auto") -> dict[str, Any]:
        a = self.adapter
        return {"upload": self.upload, "tier": "adapter", "verdict": self.verdict,
                "suspect": self.fails(policy), "fail_on": policy,
                "architecture": {"family": a.family, "width": a.hidden, "layers_at_least":
                                 a.layers, "targets": a.targets, "rank": a.rank},
                "bases": [r.id for r in self.bases],
                "fits": [{"id": r.id, "name": r.name, "path": r.path, "label": r.label,
                          "shared_tensors": self.shared.get(r.id, 0)} for r in self.fits]}  # fmt: skip


def record_config(rec: IndexRecord) -> Any:
    """The transformers config of an indexed model's source, or None when it has none."""
    from hnnframe.frontends.gguf import config_from_gguf, is_gguf
    from hnnframe.frontends.named import hf_config

    for src in (rec.structure, rec.path):
        if not src:
            continue
        p = Path(src)
        if p.is_file() and is_gguf(p):
            return config_from_gguf(p)
        cfg = hf_config(src)
        if cfg is not None:
            return cfg
    return None


def check_adapter(store: Store, records: list[IndexRecord], upload: str) -> AdapterVerdict:
    """Which of ``records`` the adapter at ``upload`` can be applied to (module docstring).

    Raises:
        ModelLoadError: the adapter cannot be read.
    """
    adapter = read_adapter(upload)
    shapes_of: dict[str, dict[str, tuple[int, ...]] | None] = {}
    fitting = []
    for rec in records:
        key = f"{rec.structure or ''}|{rec.path}"
        if key not in shapes_of:
            try:
                cfg = record_config(rec)
                shapes_of[key] = parameter_shapes(cfg) if cfg is not None else None
            except HnnError as e:  # an indexed source that moved or broke: say so, go on
                log.warning("#%d %s: its architecture cannot be read (%s)", rec.id, rec.name, e)
                shapes_of[key] = None
        shapes = shapes_of[key]
        if shapes is not None and fits(adapter, shapes):
            fitting.append(rec)
    own = Counter(adapter.whole)
    shared: dict[int, int] = {}
    if own:
        for rid, fp in stored_fingerprints(store, fitting).items():
            theirs = Counter(d.digest for d in fp.digests)
            shared[rid] = sum((own & theirs).values())
    fitting.sort(key=lambda r: (-shared.get(r.id, 0), r.id))
    return AdapterVerdict(upload, adapter, fitting, shared)
