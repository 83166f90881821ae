"""A Hugging Face snapshot directory (:mod:`hnnframe.repo`): structure from its config.json,
weights from every shard together (index json) or ``pytorch_model.bin``. Without a
config.json it gives weights only, and takes its structure from ``--structure``."""

from __future__ import annotations

from pathlib import Path

from hnnframe.repo import is_snapshot
from hnnframe.sources.base import SOURCES, STRUCTURE, WEIGHTS, Source


@SOURCES.register("snapshot")
class Snapshot(Source):
    GIVES = frozenset({STRUCTURE, WEIGHTS})
    order = 20
    describe = "a snapshot directory: config.json with model.safetensors, shards or .bin"

    def sniff(self, spec: str) -> bool:
        return is_snapshot(spec)

    def gives(self, spec: str) -> frozenset[str]:
        return self.GIVES if (Path(spec) / "config.json").is_file() else frozenset({WEIGHTS})
