"""A TorchScript archive: structure (traced through the exporter); its weights are not read
by the weight tier."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hnnframe.errors import ModelLoadError
from hnnframe.formats import zip_kind
from hnnframe.frontends.export import export_module
from hnnframe.sources.base import SOURCES, STRUCTURE, Source


@SOURCES.register("torchscript")
class TorchScript(Source):
    GIVES = frozenset({STRUCTURE})
    order = 30
    describe = "a TorchScript archive (torch.jit.save)"

    def sniff(self, spec: str) -> bool:
        return zip_kind(spec) == "torchscript"

    def to_onnx(
        self, spec: str, example_input: Any, opset: int, dynamo: bool, trust_pickle: bool
    ) -> Any:
        import torch

        path = Path(spec)
        try:
            module = torch.jit.load(str(path), map_location="cpu")
        except Exception as e:
            raise ModelLoadError(f"{path}: unreadable TorchScript file ({e})") from None
        return export_module(module, example_input, path.stem, opset, dynamo=False)
