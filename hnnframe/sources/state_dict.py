"""A PyTorch state dict (``torch.save(model.state_dict())``): weights only, read with
``weights_only=True`` (no code runs); the structure comes from ``--structure`` or the
config.json beside it."""

from __future__ import annotations

from hnnframe.formats import head, zip_kind
from hnnframe.sources.base import SOURCES, WEIGHTS, Source


@SOURCES.register("state_dict")
class StateDict(Source):
    GIVES = frozenset({WEIGHTS})
    order = 35  # after TorchScript, which is a zip archive too
    describe = "a weights_only PyTorch state dict (.pt/.bin; structure from --structure)"

    def sniff(self, spec: str) -> bool:
        if head(spec, 1) == b"\x80":  # a legacy pickle
            return True
        return zip_kind(spec) in ("pickle", "zip")
