"""hnnframe.train: every recipe trains, and training is deterministic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_overrides

from hnnframe.recipe import RECIPE_DIR, load_recipe


def recipes() -> list[Path]:
    return sorted(RECIPE_DIR.glob("*.yaml"))


@pytest.mark.parametrize("recipe", recipes(), ids=lambda p: p.stem)
def test_every_recipe_trains_one_step(
    recipe: Path, tmp_path: Path, tiny_onnx_models: list[Path]
) -> None:
    from hnnframe.train import Trainer

    cfg = load_recipe(recipe, tiny_overrides(tiny_onnx_models, tmp_path, epochs=1))
    summary = Trainer(cfg, tmp_path / "run", progress=False).fit()
    assert (tmp_path / "run" / "model.pt").exists()
    assert np.isfinite(summary["final"]["loss/total"])
    assert any((tmp_path / "run" / "tb").iterdir())


def test_training_is_deterministic(tmp_path: Path, tiny_onnx_models: list[Path]) -> None:
    from hnnframe.train import Trainer

    runs = []
    for k in range(2):
        cfg = load_recipe("hnn_net", tiny_overrides(tiny_onnx_models, tmp_path, epochs=2))
        runs.append(Trainer(cfg, tmp_path / f"r{k}", progress=False).fit()["final"]["loss/total"])
    assert runs[0] == runs[1]
