"""Model source specs: the one place that tells a named model from a file path.

A named source is ``SCHEME:NAME``:

* ``torchvision:resnet50``: a torchvision architecture with ``weights=None``;
* ``timm:efficientnet_b0``: ``timm.create_model(NAME, pretrained=False)``;
* ``hf:MODEL_TYPE``, ``hf:MODEL_TYPE:tiny`` or ``hf:MODEL_TYPE:key=value,key=value``: a
  transformers architecture from the default config of that ``model_type`` (``tiny`` applies
  the small built-in test config; ``key=value`` items override config fields and may follow
  ``tiny``, e.g. ``hf:gpt2:tiny,n_layer=3``).

Anything else is a path: an ONNX file, a TorchScript file, or a Hugging Face config
(a ``config.json``, or a directory holding one: the snapshot layout, whose weights are
ignored), see :func:`config_json`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hnnframe.errors import ModelLoadError
from hnnframe.repo import GENERIC_STEMS

#: Schemes of named sources; each builds a torch module from a name.
SCHEMES: tuple[str, ...] = ("torchvision", "timm", "hf")


def split_source(spec: Any) -> tuple[str, str] | None:
    """``(scheme, name)`` of a named source such as ``"torchvision:resnet50"``, else None."""
    if not isinstance(spec, (str, os.PathLike)):
        return None
    s = os.fspath(spec)
    scheme, sep, name = s.partition(":")
    if sep and scheme in SCHEMES and name:
        return scheme, name
    return None


def is_named(spec: Any) -> bool:
    """Whether ``spec`` names a model (``SCHEME:NAME``) rather than a file."""
    return split_source(spec) is not None


def named(scheme: str, name: str) -> str:
    """The spec string of a named source."""
    return f"{scheme}:{name}"


def parse_hf(name: str) -> tuple[str, bool, dict[str, Any]]:
    """``(model_type, tiny, overrides)`` of the NAME part of ``hf:NAME``.

    Override values are read as JSON when they parse (``12``, ``0.1``, ``true``, ``null``,
    ``[1,2]``) and kept as text otherwise.

    Raises:
        ModelLoadError: an item that is neither ``tiny`` nor ``key=value``.
    """
    model_type, _, rest = name.partition(":")
    spec = f"hf:{name}"
    if not model_type:
        raise ModelLoadError(f"{spec}: no model type (want hf:MODEL_TYPE[:tiny|:key=value,...])")
    tiny = False
    overrides: dict[str, Any] = {}
    for item in (p.strip() for p in rest.split(",")) if rest else ():
        if item == "tiny" and not overrides:
            tiny = True
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ModelLoadError(
                f"{spec}: bad override {item!r} (want key=value, e.g. n_layer=4, or 'tiny' first)"
            )
        try:
            overrides[key] = json.loads(value)
        except ValueError:
            overrides[key] = value.strip()
    return model_type, tiny, overrides


def config_json(spec: Any) -> Path | None:
    """The Hugging Face ``config.json`` a path names, else None.

    A ``.json`` file, or a directory that holds ``config.json`` (a snapshot: the weights
    beside it are never read).
    """
    if not isinstance(spec, (str, os.PathLike)) or is_named(spec):
        return None
    p = Path(os.fspath(spec))
    if p.is_dir() and (p / "config.json").is_file():
        return p / "config.json"
    if p.suffix.lower() == ".json" and p.is_file():
        return p
    return None


def source_label(spec: Any) -> str:
    """A short name for a source, usable in file names: ``resnet50``, ``gpt2-tiny``,
    ``gpt2-n_layer=4``; a config's directory (the repository of a hub snapshot)."""
    parts = split_source(spec)
    if parts is not None:
        return parts[1].replace(":", "-").replace(",", "-")
    cfg = config_json(spec)
    if cfg is None:
        p = Path(os.fspath(spec))
        # model.safetensors, model-00001-of-00004.safetensors, adapter_model.bin: the file
        # names no model, its folder (the repository) does
        if p.parent.name and p.stem.split("-0")[0].split(".")[0] in GENERIC_STEMS:
            return p.parent.name
        return p.stem
    if cfg.name != "config.json":
        return cfg.stem
    d = cfg.parent
    # Hub cache layout: models--ORG--NAME/snapshots/<commit>/config.json
    if d.parent.name == "snapshots" and d.parent.parent.name.startswith("models--"):
        return d.parent.parent.name.split("--")[-1]
    return d.name or cfg.stem
