"""``check`` of a PEFT adapter: the indexed models it can be applied to (issue 18).

An adapter holds no model of its own, so it is checked by what it fits
(:mod:`hnnframe.weights.adapter`): every indexed model whose architecture is known as a
transformers config (a snapshot directory, a config.json, a GGUF file, an ``hf:`` name, or
such a source given as the companion structure of a weights file) is built on the meta device
and tried against the adapter's module paths and shapes. Tensors an adapter saves whole
(``modules_to_save``) are compared with each candidate's stored tensor digests: a candidate
that holds them exactly is the base. Otherwise, when several indexed models fit, each one
whose weights can be read is tested for the alignment of the adapter's ``lora_A`` rows with
its weights (:mod:`hnnframe.weights.adapter_base`): a trained adapter remembers the basis of
the model it was trained on. The verdict is ``adapter for #N`` when one indexed model is the
base, ``adapter for one of #a, #b`` when several are equally likely (an untrained adapter,
or bases whose weights are not at hand), and ``no indexed base``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hnnframe.errors import HnnError
from hnnframe.frontends.gguf import config_from_gguf, is_gguf
from hnnframe.frontends.named import hf_config
from hnnframe.index.records import IndexRecord
from hnnframe.index.store import Store
from hnnframe.index.tiers import stored_fingerprints
from hnnframe.log import get_logger
from hnnframe.weights.adapter import Adapter, fits, parameter_shapes, read_adapter
from hnnframe.weights.adapter_base import CONV1D_TYPES, Alignment, alignment, likely_bases

log = get_logger(__name__)


@dataclass
class AdapterVerdict:
    """What ``check`` says of one adapter upload."""

    upload: str
    adapter: Adapter
    fits: list[IndexRecord]  # indexed models it can be applied to, best evidence first
    shared: dict[int, int]  # record id -> tensors saved whole that are the record's own
    #: record id -> how far the adapter's lora_A rows follow that record's weights
    aligned: dict[int, Alignment] = field(default_factory=dict)

    @property
    def bases(self) -> list[IndexRecord]:
        """The indexed base: those holding the most of its whole tensors, else those its
        ``lora_A`` rows follow (strongest first), else every fit."""
        best = max(self.shared.values(), default=0)
        if best:
            return [r for r in self.fits if self.shared.get(r.id, 0) == best]
        by_id = {r.id: r for r in self.fits}
        return [by_id[i] for i in likely_bases(list(by_id), self.aligned)]

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
        return {
            "upload": self.upload,
            "tier": "adapter",
            "verdict": self.verdict,
            "suspect": self.fails(policy),
            "fail_on": policy,
            "architecture": {
                "family": a.family,
                "width": a.hidden,
                "layers_at_least": a.layers,
                "targets": a.targets,
                "rank": a.rank,
            },
            "bases": [r.id for r in self.bases],
            "fits": [self._fit_dict(r) for r in self.fits],
        }

    def _fit_dict(self, r: IndexRecord) -> dict[str, Any]:
        a = self.aligned.get(r.id)
        return {
            "id": r.id,
            "name": r.name,
            "path": r.path,
            "label": r.label,
            "shared_tensors": self.shared.get(r.id, 0),
            "alignment_z": a.z if a else None,
        }


def record_config(rec: IndexRecord) -> Any:
    """The transformers config of an indexed model's source, or None when it has none."""
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
    shapes_of: dict[str, tuple[Any, dict[str, tuple[int, ...]]] | None] = {}
    fitting, configs = [], {}
    for rec in records:
        key = f"{rec.structure or ''}|{rec.path}"
        if key not in shapes_of:
            try:
                cfg = record_config(rec)
                shapes_of[key] = (cfg, parameter_shapes(cfg)) if cfg is not None else None
            except HnnError as e:  # an indexed source that moved or broke: say so, go on
                log.warning("#%d %s: its architecture cannot be read (%s)", rec.id, rec.name, e)
                shapes_of[key] = None
        known = shapes_of[key]
        if known is not None and fits(adapter, known[1]):
            fitting.append(rec)
            configs[rec.id] = known[0]
    own = Counter(adapter.whole)
    shared: dict[int, int] = {}
    # the fits' stored fingerprints: needed for saved whole tensors, or to choose among fits
    held = stored_fingerprints(store, fitting) if own or len(fitting) > 1 else {}
    if own:
        for rid, fp in held.items():
            theirs = Counter(d.digest for d in fp.digests)
            shared[rid] = sum((own & theirs).values())
    aligned: dict[int, Alignment] = {}
    if len(fitting) > 1 and not any(shared.values()):
        aligned = _alignments(adapter, [r for r in fitting if r.id in held], configs)
    fitting.sort(key=lambda r: (-shared.get(r.id, 0), -_z(aligned, r.id), r.id))
    return AdapterVerdict(upload, adapter, fitting, shared, aligned)


def _z(aligned: dict[int, Alignment], rid: int) -> float:
    """The sort key of a fit: its z when that names it a base; below the line z is not
    evidence, and those fits keep their id order."""
    a = aligned.get(rid)
    return a.z if a is not None and a.is_base else float("-inf")


def _alignments(
    adapter: Adapter, records: list[IndexRecord], configs: dict[int, Any]
) -> dict[int, Alignment]:
    """Each record's alignment with the adapter, read from the weights at its path (a record
    whose weights moved or cannot be read is left out, with a warning)."""
    from hnnframe.weights.readers import iter_tensors

    out: dict[int, Alignment] = {}
    for rec in records:
        conv1d = getattr(configs.get(rec.id), "model_type", None) in CONV1D_TYPES
        try:
            out[rec.id] = alignment(adapter.lora_a, iter_tensors(rec.path), conv1d)
        except HnnError as e:
            log.warning(
                "#%d %s: its weights cannot be read to test the adapter (%s)", rec.id, rec.name, e
            )
    return out
