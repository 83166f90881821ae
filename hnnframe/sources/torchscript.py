"""A TorchScript archive: structure (traced through the exporter); its weights are not read
by the weight tier."""

from __future__ import annotations

import zipfile
from pathlib import Path

from hnnframe.sources.base import SOURCES, STRUCTURE, Source, head


def zip_names(spec: str) -> list[str]:
    """Member names of a zip archive, ``[]`` for anything else."""
    if head(spec, 4) != b"PK\x03\x04":
        return []
    try:
        with zipfile.ZipFile(Path(spec)) as z:
            return z.namelist()
    except (zipfile.BadZipFile, OSError):
        return []


@SOURCES.register("torchscript")
class TorchScript(Source):
    GIVES = frozenset({STRUCTURE})
    order = 30
    describe = "a TorchScript archive (torch.jit.save)"

    def sniff(self, spec: str) -> bool:
        return any(n.endswith("/constants.pkl") or "/code/" in n for n in zip_names(spec))
