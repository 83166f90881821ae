"""A PEFT adapter directory (:mod:`hnnframe.weights.adapter`): LoRA matrices, no model of
its own; ``hnn index check`` names the indexed models it can be applied to."""

from __future__ import annotations

from hnnframe.repo import is_adapter
from hnnframe.sources.base import SOURCES, WEIGHTS, Source


@SOURCES.register("adapter")
class PeftAdapter(Source):
    GIVES = frozenset({WEIGHTS})
    order = 10  # before snapshot: an adapter directory may hold a config.json too
    describe = "a PEFT adapter: adapter_config.json with adapter_model.safetensors"

    def sniff(self, spec: str) -> bool:
        return is_adapter(spec)
