"""hnnframe: perceptual hashes of neural networks (HNN-Net, Zhu et al., Symmetry 2022).

Stage 1 (graph generator) lives in frontends/, ir/, canonical/, merge/ and encoders/;
Stage 2 (graph hashing) in nn/, losses.py, ged/ and train.py. Heavy dependencies (torch, onnx,
DGL) are imported lazily, so ``import hnnframe`` is cheap.
"""

from __future__ import annotations

from typing import Any

from hnnframe.errors import HnnError
from hnnframe.registry import Registry

__version__ = "0.1.0"

_LAZY = {
    "graph_of": "hnnframe.pipeline",
    "graph_and_counts": "hnnframe.pipeline",
    "OpGraph": "hnnframe.ir",
    "MERGE_RULES": "hnnframe.merge",
    "MergeRule": "hnnframe.merge",
    "NODE_ENCODERS": "hnnframe.encoders",
    "CANONICALISERS": "hnnframe.canonical",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hnnframe' has no attribute {name!r}")


__all__ = ["HnnError", "Registry", "__version__", *_LAZY]
