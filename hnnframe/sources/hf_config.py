"""A transformers ``config.json`` (or a directory holding only one): structure alone, built
on the meta device (:mod:`hnnframe.frontends.hf`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hnnframe.frontends.named import export_source
from hnnframe.frontends.sources import config_json
from hnnframe.sources.base import SOURCES, STRUCTURE, Source


@SOURCES.register("hf_config")
class HfConfig(Source):
    GIVES = frozenset({STRUCTURE})
    order = 40  # after snapshot directories, which hold a config.json too
    describe = "a transformers config.json, or a directory holding one and no weights"

    def sniff(self, spec: str) -> bool:
        return config_json(spec) is not None and not Path(spec).name.endswith(".index.json")

    def to_onnx(
        self, spec: str, example_input: Any, opset: int, dynamo: bool, trust_pickle: bool
    ) -> Any:
        return export_source(spec, example_input, opset, dynamo)
