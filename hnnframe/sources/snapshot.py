"""A Hugging Face snapshot directory (:mod:`hnnframe.repo`): structure from its config.json,
weights from every shard together (index json) or ``pytorch_model.bin``. Without a
config.json it gives weights only, and takes its structure from ``--structure``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hnnframe.frontends.paths import directory_to_onnx
from hnnframe.repo import is_snapshot, weight_files
from hnnframe.sources.base import SOURCES, STRUCTURE, WEIGHTS, Source
from hnnframe.sources.guard import ReadGuard


@SOURCES.register("snapshot")
class Snapshot(Source):
    GIVES = frozenset({STRUCTURE, WEIGHTS})
    order = 20
    describe = "a snapshot directory: config.json with model.safetensors, shards or .bin"
    weights_format = "snapshot"

    def sniff(self, spec: str) -> bool:
        return is_snapshot(spec)

    def gives(self, spec: str) -> frozenset[str]:
        return self.GIVES if (Path(spec) / "config.json").is_file() else frozenset({WEIGHTS})

    def to_onnx(
        self, spec: str, example_input: Any, opset: int, dynamo: bool, trust_pickle: bool
    ) -> Any:
        return directory_to_onnx(spec, example_input, opset, dynamo)

    def tensors(self, spec: str, guard: ReadGuard) -> Iterator[tuple[str, Any]]:
        """Every shard in turn (names as the shards store them), under one guard: the limits
        count the whole model, and a reader's error names the shard."""
        from hnnframe.sources.read import iter_tensors

        for f in weight_files(spec):
            yield from iter_tensors(f, guard=guard)
