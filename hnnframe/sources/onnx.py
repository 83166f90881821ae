"""An ONNX file: structure (no external data loaded, nothing executed), and its weights when
they are there (initializers inline or external data files beside it, inside its folder)."""

from __future__ import annotations

from hnnframe.files import not_regular
from hnnframe.formats import looks_like_onnx
from hnnframe.sources.base import SOURCES, STRUCTURE, WEIGHTS, Source


@SOURCES.register("onnx")
class Onnx(Source):
    GIVES = frozenset({STRUCTURE, WEIGHTS})
    order = 45  # last among files: its sniff (a protobuf's first byte) is the weakest
    describe = "an ONNX file, with its weights when they are present"

    def sniff(self, spec: str) -> bool:
        return not not_regular(spec) and looks_like_onnx(spec)
