"""``torchvision:NAME``: a torchvision architecture built with ``weights=None``.

Structure, FLOPs and parameter counts do not depend on weight values. googlenet and
inception_v3 are built without their auxiliary classifiers, which eval-mode export never
traces, so ``model.parameters()`` equals the exported parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class ZooEntry:
    name: str
    category: str


# Table 1: 21 distinct architectures in 10 categories. The table's third SqueezeNet entry
# ("v2_x0_5") names a ShuffleNet model, which is already in the ShuffleNet row.
TABLE1: tuple[ZooEntry, ...] = tuple(
    ZooEntry(n, c)
    for c, names in [
        ("vgg", ["vgg11", "vgg13", "vgg16"]),
        ("resnet", ["resnet18", "resnet34", "resnet101"]),
        ("mnasnet", ["mnasnet0_75", "mnasnet1_0", "mnasnet1_3"]),
        ("densenet", ["densenet121", "densenet161", "densenet201"]),
        ("squeezenet", ["squeezenet1_0", "squeezenet1_1"]),
        ("shufflenet", ["shufflenet_v2_x0_5", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0"]),
        ("alexnet", ["alexnet"]),
        ("inception", ["inception_v3"]),
        ("mobilenet", ["mobilenet_v2"]),
        ("googlenet", ["googlenet"]),
    ]
    for n in names
)
CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(e.category for e in TABLE1))
CATEGORY_OF: dict[str, str] = {e.name: e.category for e in TABLE1}
