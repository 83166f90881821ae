"""A GGUF file (llama.cpp): structure from its metadata as a transformers config
(:mod:`hnnframe.frontends.gguf`), weights dequantized tensor by tensor under their Hugging
Face names and layouts (:mod:`hnnframe.sources.gguf_tensors`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hnnframe.formats import is_gguf
from hnnframe.frontends.export import prepare
from hnnframe.frontends.gguf import config_from_gguf
from hnnframe.frontends.hf_export import export_config
from hnnframe.sources.base import SOURCES, STRUCTURE, WEIGHTS, Source
from hnnframe.sources.guard import ReadGuard


@SOURCES.register("gguf")
class Gguf(Source):
    GIVES = frozenset({STRUCTURE, WEIGHTS})
    order = 30
    describe = "a GGUF file: metadata -> transformers config, tensors dequantized"
    weights_format = "gguf"

    def sniff(self, spec: str) -> bool:
        return is_gguf(spec)

    def to_onnx(
        self, spec: str, example_input: Any, opset: int, dynamo: bool, trust_pickle: bool
    ) -> Any:
        path = Path(spec)
        return prepare(export_config(config_from_gguf(path), path.stem))

    def tensors(self, spec: str, guard: ReadGuard) -> Iterator[tuple[str, Any]]:
        from hnnframe.sources.gguf_tensors import gguf_tensors

        yield from gguf_tensors(Path(spec), guard)
