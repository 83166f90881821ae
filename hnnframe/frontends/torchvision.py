"""``torchvision:NAME``: a torchvision architecture built with ``weights=None``.

Structure, FLOPs and parameter counts do not depend on weight values. googlenet and
inception_v3 are built without their auxiliary classifiers, which eval-mode export never
traces, so ``model.parameters()`` equals the exported parameters.
"""

from __future__ import annotations

from typing import Any

from hnnframe.errors import ModelLoadError

# Models whose canonical input is not 3x224x224.
INPUT_SIZES: dict[str, tuple[int, int, int]] = {"inception_v3": (3, 299, 299)}
_TV_KWARGS: dict[str, dict[str, Any]] = {
    "inception_v3": {"aux_logits": False, "init_weights": False},
    "googlenet": {"aux_logits": False, "init_weights": False},
}


def torchvision_model(name: str) -> Any:
    """Instantiate ``torchvision.models.NAME`` with ``weights=None``."""
    import torchvision

    fn = getattr(torchvision.models, name, None)
    if fn is None or not callable(fn) or name.startswith("_") or name[0].isupper():
        raise ModelLoadError(f"unknown torchvision model {name!r}")
    try:
        return fn(weights=None, **_TV_KWARGS.get(name, {}))
    except TypeError as e:
        raise ModelLoadError(f"torchvision:{name} is not a model builder ({e})") from None


def torchvision_input_size(name: str) -> tuple[int, int, int]:
    """(C, H, W) of the paper's zero-image trigger for a torchvision model."""
    return INPUT_SIZES.get(name, (3, 224, 224))
