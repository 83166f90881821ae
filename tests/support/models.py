"""Tiny real models exported to real ONNX files, and the tiny training run on them.

The fixtures of tests/conftest.py build on these; benchmarks and examples that need the same
models import them from here (``sys.path`` holding ``tests/``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


class TinyConvNet(nn.Module):
    """Conv(3->4, 3x3, pad 1) -> BN -> ReLU -> global pool -> Linear(4->2) on 1x3x8x8."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.relu(self.bn(self.conv(x))))
        return self.fc(torch.flatten(x, 1))


class TinyResNet(nn.Module):
    """A residual block with two Conv-BN(-ReLU) branches joined by Add."""

    def __init__(self, width: int = 8, depth: int = 2) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()
        )
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(width, width, 3, padding=1),
                nn.BatchNorm2d(width),
                nn.ReLU(),
                nn.Conv2d(width, width, 3, padding=1),
                nn.BatchNorm2d(width),
            )
            for _ in range(depth)
        )
        self.head = nn.Linear(width, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for b in self.blocks:
            x = torch.relu(x + b(x))
        return self.head(x.mean(dim=(2, 3)))


class TinyMLP(nn.Module):
    def __init__(self, hidden: int = 16, layers: int = 2) -> None:
        super().__init__()
        mods: list[nn.Module] = [nn.Flatten()]
        d = 3 * 8 * 8
        for _ in range(layers):
            mods += [nn.Linear(d, hidden), nn.ReLU()]
            d = hidden
        mods.append(nn.Linear(d, 2))
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


TINY_INPUT = (1, 3, 8, 8)


def export(model: nn.Module, path: Path) -> Path:
    from hnnframe.frontends import export_module

    proto = export_module(model, torch.zeros(*TINY_INPUT), path.stem)
    path.write_bytes(proto.SerializeToString())
    return path


TINY_CATEGORIES = {
    "convnet": "convnet",
    "resnet_d1": "resnet",
    "resnet_d2": "resnet",
    "resnet_d3": "resnet",
    "mlp_2": "mlp",
    "mlp_3": "mlp",
}


def tiny_overrides(models: list[Path], cache: Path, epochs: int = 1) -> list[str]:
    """Recipe overrides that train on the tiny ONNX models (3 categories) for a few epochs."""
    import json

    source = [{"path": str(p), "category": TINY_CATEGORIES[p.stem]} for p in models]
    return [
        f"data.source={json.dumps(source)}",
        "data.copies=3",
        "data.train_frac=0.67",
        f"train.epochs={epochs}",
        "train.ged_jobs=1",
        f"ged_cache={cache / 'ged.sqlite'}",
    ]


def tiny_models(out: Path) -> list[Path]:
    """Six real (weight-stripped) ONNX files of three tiny architecture families, in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    models = {
        "convnet": TinyConvNet(),
        "resnet_d1": TinyResNet(8, 1),
        "resnet_d2": TinyResNet(8, 2),
        "resnet_d3": TinyResNet(16, 3),
        "mlp_2": TinyMLP(16, 2),
        "mlp_3": TinyMLP(32, 3),
    }
    return [export(m, out / f"{name}.onnx") for name, m in models.items()]


def tiny_checkpoint(models: list[Path], out: Path) -> Path:
    """A real checkpoint of the paper recipe trained for 3 epochs on ``models``, in ``out``."""
    from hnnframe.recipe import load_recipe
    from hnnframe.train import Trainer

    recipe = load_recipe("hnn_net", tiny_overrides(models, out, epochs=3))
    Trainer(recipe, out, progress=False).fit()
    return out / "model.pt"
