"""Model sources: one registered class per kind of upload (:mod:`.base`).

Importing this package registers the built-in kinds, one file each: names (``torchvision:``,
``timm:``, ``hf:``), a transformers config, a snapshot directory, ONNX, TorchScript, a state
dict, safetensors, GGUF and a PEFT adapter.
"""

from __future__ import annotations

from hnnframe.sources import (  # noqa: F401 - registration
    adapter,
    gguf,
    hf_config,
    named,
    onnx,
    safetensors,
    snapshot,
    state_dict,
    torchscript,
)
from hnnframe.sources.base import SOURCES, STRUCTURE, WEIGHTS, Source, kind_of, sniff
from hnnframe.sources.dispatch import to_onnx

__all__ = ["SOURCES", "STRUCTURE", "WEIGHTS", "Source", "kind_of", "sniff", "to_onnx"]
