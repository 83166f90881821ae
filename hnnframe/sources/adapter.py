"""A PEFT adapter directory (:mod:`hnnframe.weights.adapter`): LoRA matrices, no model of
its own; ``hnn index check`` names the indexed models it can be applied to."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hnnframe.frontends.paths import directory_to_onnx
from hnnframe.repo import adapter_files, is_adapter
from hnnframe.sources.base import SOURCES, WEIGHTS, Source
from hnnframe.sources.guard import ReadGuard


@SOURCES.register("adapter")
class PeftAdapter(Source):
    GIVES = frozenset({WEIGHTS})
    order = 10  # before snapshot: an adapter directory may hold a config.json too
    describe = "a PEFT adapter: adapter_config.json with adapter_model.safetensors"
    weights_format = "adapter"

    def sniff(self, spec: str) -> bool:
        return is_adapter(spec)

    def to_onnx(
        self, spec: str, example_input: Any, opset: int, dynamo: bool, trust_pickle: bool
    ) -> Any:
        return directory_to_onnx(spec, example_input, opset, dynamo)

    def tensors(self, spec: str, guard: ReadGuard) -> Iterator[tuple[str, Any]]:
        """Its own tensors (``lora_A``/``lora_B``), as its weights file stores them."""
        from hnnframe.sources.read import iter_tensors

        files = adapter_files(spec)
        assert files is not None  # sniffed as an adapter
        yield from iter_tensors(files[1], guard=guard)
