"""``timm:NAME``: a timm architecture, exported like the torchvision models.

``timm.create_model(NAME, pretrained=False)`` (no download, untrained weights), exported with
the TorchScript exporter and BatchNormalization kept (:func:`hnnframe.frontends.export.export_module`).
The trigger is the paper's zero image at the model's own input size: ``input_size`` of its
``pretrained_cfg`` (``default_cfg`` on older timm), e.g. 3x224x224 for efficientnet_b0 and
3x176x176 for resnet10t; 3x224x224 when the model names none.
"""

from __future__ import annotations

from typing import Any

from hnnframe.errors import ModelLoadError

DEFAULT_INPUT_SIZE = (3, 224, 224)


def timm_model(name: str) -> Any:
    """``timm.create_model(name, pretrained=False)`` in eval mode."""
    import timm

    if not timm.is_model(name):
        raise ModelLoadError(f"timm:{name}: unknown timm model {name!r} (see timm.list_models())")
    try:
        return timm.create_model(name, pretrained=False).eval()
    except Exception as e:  # a name timm lists but cannot build here (a missing extra)
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelLoadError(f"timm:{name}: cannot build the model ({msg})") from None


def timm_input_size(model: Any) -> tuple[int, ...]:
    """(C, H, W) of a timm model's trigger image, from its pretrained config."""
    for attr in ("pretrained_cfg", "default_cfg"):
        cfg = getattr(model, attr, None)
        if isinstance(cfg, dict) and cfg.get("input_size"):
            return tuple(int(d) for d in cfg["input_size"])
    return DEFAULT_INPUT_SIZE


def timm_trigger(model: Any) -> Any:
    """The paper's trigger for a timm model: a zero image of batch size 1."""
    import torch

    return torch.zeros(1, *timm_input_size(model))
