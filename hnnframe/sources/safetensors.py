"""A safetensors file: weights only (its header, then each tensor at its offset); the
structure comes from ``--structure`` or the config.json beside it."""

from __future__ import annotations

from hnnframe.formats import is_safetensors
from hnnframe.sources.base import SOURCES, WEIGHTS, Source


@SOURCES.register("safetensors")
class Safetensors(Source):
    GIVES = frozenset({WEIGHTS})
    order = 30
    describe = "a safetensors file (weights; structure from --structure or config.json)"

    def sniff(self, spec: str) -> bool:
        return is_safetensors(spec)
