"""A PyTorch state dict (``torch.save(model.state_dict())``): weights only, read with
``weights_only=True`` (no code runs); the structure comes from ``--structure`` or the
config.json beside it."""

from __future__ import annotations

from hnnframe.sources.base import SOURCES, WEIGHTS, Source, head
from hnnframe.sources.torchscript import TorchScript


@SOURCES.register("state_dict")
class StateDict(Source):
    GIVES = frozenset({WEIGHTS})
    order = 35  # after TorchScript, which is a zip archive too
    describe = "a weights_only PyTorch state dict (.pt/.bin; structure from --structure)"

    def sniff(self, spec: str) -> bool:
        h = head(spec, 4)
        if h[:1] == b"\x80":  # a legacy pickle
            return True
        return h == b"PK\x03\x04" and not TorchScript().sniff(spec)
