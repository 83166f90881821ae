"""Named sources, ``SCHEME:NAME``: an architecture built without weights
(:mod:`hnnframe.frontends.sources`): torchvision, timm and transformers (``hf:``) names."""

from __future__ import annotations

from typing import Any, ClassVar

from hnnframe.frontends.named import export_source
from hnnframe.frontends.sources import split_source
from hnnframe.sources.base import SOURCES, STRUCTURE, Source


class _Named(Source):
    GIVES = frozenset({STRUCTURE})
    order = 0
    scheme: ClassVar[str] = ""

    def sniff(self, spec: str) -> bool:
        parts = split_source(spec)
        return parts is not None and parts[0] == self.scheme

    def to_onnx(
        self, spec: str, example_input: Any, opset: int, dynamo: bool, trust_pickle: bool
    ) -> Any:
        return export_source(spec, example_input, opset, dynamo)


@SOURCES.register("torchvision")
class TorchvisionName(_Named):
    scheme = "torchvision"
    describe = "torchvision:NAME, built with weights=None"


@SOURCES.register("timm")
class TimmName(_Named):
    scheme = "timm"
    describe = "timm:NAME, built with pretrained=False"


@SOURCES.register("hf_name")
class HfName(_Named):
    scheme = "hf"
    describe = "hf:MODEL_TYPE[:tiny|:key=value,...], a transformers config built on meta"
