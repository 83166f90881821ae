"""hnnframe.train: every recipe trains, and training is deterministic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support.models import tiny_overrides

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


class Killed(Exception):
    """Stands in for the process dying after an epoch's state was saved."""


def _kill_after(epoch: int):  # noqa: ANN202 - a Trainer callback
    def cb(e: int, scalars: dict[str, float]) -> None:
        if e == epoch:
            raise Killed

    return cb


@pytest.mark.parametrize("name", ["hnn_net", "hnn_hub"])
def test_an_interrupted_run_resumes_where_it_stopped(
    name: str, tmp_path: Path, tiny_onnx_models: list[Path]
) -> None:
    import torch

    from hnnframe.train import Trainer
    from hnnframe.train_resume import RESUME_FILE

    def recipe() -> dict:
        return load_recipe(name, tiny_overrides(tiny_onnx_models, tmp_path, epochs=3))

    whole = Trainer(recipe(), tmp_path / "whole", progress=False).fit()
    assert not (tmp_path / "whole" / RESUME_FILE).exists()  # removed once training finished

    with pytest.raises(Killed):
        Trainer(recipe(), tmp_path / "cut", progress=False, callbacks=[_kill_after(2)]).fit()
    assert (tmp_path / "cut" / RESUME_FILE).exists()
    resumed = Trainer(recipe(), tmp_path / "cut", progress=False).fit()
    assert resumed["resumed_after"] == 2 and whole["resumed_after"] == 0
    # The same pairs, steps and optimizer moments: the resumed model is the uninterrupted one.
    a = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "cut" / "model.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["final"] == whole["final"]


def test_saved_state_of_another_recipe_or_restart_trains_from_epoch_one(
    tmp_path: Path, tiny_onnx_models: list[Path]
) -> None:
    from hnnframe.train import Trainer
    from hnnframe.train_resume import RESUME_FILE

    out = tmp_path / "run"
    ov = tiny_overrides(tiny_onnx_models, tmp_path, epochs=2)
    with pytest.raises(Killed):
        Trainer(load_recipe("hnn_net", ov), out, progress=False, callbacks=[_kill_after(1)]).fit()
    other = Trainer(load_recipe("hnn_net", [*ov, "loss.beta=0"]), out, progress=False).fit()
    assert other["resumed_after"] == 0
    with pytest.raises(Killed):
        Trainer(load_recipe("hnn_net", ov), out, progress=False, callbacks=[_kill_after(1)]).fit()
    assert (out / RESUME_FILE).exists()
    again = Trainer(load_recipe("hnn_net", ov), out, progress=False, resume=False).fit()
    assert again["resumed_after"] == 0 and not (out / RESUME_FILE).exists()


def test_train_section_is_typed_and_checked() -> None:
    from hnnframe.errors import ConfigError
    from hnnframe.train import DEFAULT_TRAIN, RecipeConfig, TrainConfig
    from hnnframe.train.config import train_section

    # YAML 1.1 reads 1e-3 as a string and an override may give an int where a float is meant.
    section = train_section({"train": {"lr": "1e-3", "weight_decay": 0, "epochs": "3"}})
    assert list(section) == list(DEFAULT_TRAIN)
    cfg = TrainConfig.from_section(section)
    assert (cfg.lr, cfg.weight_decay, cfg.epochs) == (1e-3, 0.0, 3)
    assert isinstance(cfg.weight_decay, float) and isinstance(cfg.epochs, int)
    assert [e for e in range(1, 4) if cfg.evaluates(e)] == [1, 2, 3]
    assert [e for e in range(1, 8) if TrainConfig(epochs=7, eval_every=3).evaluates(e)] == [3, 6, 7]
    with pytest.raises(ConfigError, match="unknown train keys"):
        train_section({"train": {"epoch": 3}})
    with pytest.raises(ConfigError, match="ged_on must be"):
        RecipeConfig.from_recipe({"train": train_section({"train": {"ged_on": "pairs"}})})


def test_a_recipe_step_can_be_extended(tmp_path: Path, tiny_onnx_models: list[Path]) -> None:
    """docs/writing-rules.md's example: a subclass adds a figure to the evaluation step, and it
    reaches the history, the summary and the callbacks without touching the other steps."""
    from hnnframe.train import Trainer

    class EntropyTrainer(Trainer):
        def evaluate(self, s, p, epoch):  # noqa: ANN001, ANN202 - the documented example
            scalars = super().evaluate(s, p, epoch)
            share = p.db["codes"].mean(0).clip(1e-6, 1 - 1e-6)
            bits = -(share * np.log2(share) + (1 - share) * np.log2(1 - share))
            scalars["bits/entropy"] = float(bits.mean())
            return scalars

    seen: list[float] = []
    cfg = load_recipe("hnn_net", tiny_overrides(tiny_onnx_models, tmp_path, epochs=2))
    record = [lambda e, sc: seen.append(sc["bits/entropy"])]
    trainer = EntropyTrainer(cfg, tmp_path / "run", progress=False, callbacks=record)
    summary = trainer.fit()
    assert len(seen) == 2 and all(0.0 <= v <= 1.0 for v in seen)
    assert summary["final"]["bits/entropy"] == seen[-1]
    assert [h["bits/entropy"] for h in trainer.history] == seen
