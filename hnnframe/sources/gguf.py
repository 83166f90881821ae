"""A GGUF file (llama.cpp): structure from its metadata as a transformers config
(:mod:`hnnframe.frontends.gguf`), weights dequantized tensor by tensor under their Hugging
Face names and layouts (:mod:`hnnframe.weights.gguf_tensors`)."""

from __future__ import annotations

from hnnframe.formats import is_gguf
from hnnframe.sources.base import SOURCES, STRUCTURE, WEIGHTS, Source


@SOURCES.register("gguf")
class Gguf(Source):
    GIVES = frozenset({STRUCTURE, WEIGHTS})
    order = 30
    describe = "a GGUF file: metadata -> transformers config, tensors dequantized"

    def sniff(self, spec: str) -> bool:
        return is_gguf(spec)
