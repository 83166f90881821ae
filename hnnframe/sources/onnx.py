"""An ONNX file: structure (no external data loaded, nothing executed), and its weights when
they are there (initializers inline or external data files beside it, inside its folder;
:mod:`hnnframe.sources.onnx_reader`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hnnframe.files import not_regular
from hnnframe.formats import looks_like_onnx
from hnnframe.frontends.paths import load_onnx_file
from hnnframe.sources.base import SOURCES, STRUCTURE, WEIGHTS, Source
from hnnframe.sources.guard import ReadGuard


@SOURCES.register("onnx")
class Onnx(Source):
    GIVES = frozenset({STRUCTURE, WEIGHTS})
    order = 45  # last among files: its sniff (a protobuf's first byte) is the weakest
    describe = "an ONNX file, with its weights when they are present"
    weights_format = "onnx"

    def sniff(self, spec: str) -> bool:
        return not not_regular(spec) and looks_like_onnx(spec)

    def to_onnx(
        self, spec: str, example_input: Any, opset: int, dynamo: bool, trust_pickle: bool
    ) -> Any:
        return load_onnx_file(Path(spec))

    def tensors(self, spec: str, guard: ReadGuard) -> Iterator[tuple[str, Any]]:
        from hnnframe.sources.onnx_reader import onnx_tensors

        yield from onnx_tensors(Path(spec), guard)
