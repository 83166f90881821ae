"""A TorchScript archive: structure (traced through the exporter); its weights are not read
by the weight tier."""

from __future__ import annotations

from hnnframe.formats import zip_kind
from hnnframe.sources.base import SOURCES, STRUCTURE, Source


@SOURCES.register("torchscript")
class TorchScript(Source):
    GIVES = frozenset({STRUCTURE})
    order = 30
    describe = "a TorchScript archive (torch.jit.save)"

    def sniff(self, spec: str) -> bool:
        return zip_kind(spec) == "torchscript"
