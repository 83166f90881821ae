"""hnnframe.tune.settings: the tune: section, held-out architectures, sampled recipes."""

from __future__ import annotations

import pytest

from hnnframe.errors import ConfigError
from hnnframe.recipe import load_recipe
from hnnframe.tune import (
    DEFAULT_HOLDOUT,
    DEFAULT_TUNE,
    TuneConfig,
    prepare_recipe,
    sampled_recipe,
    training_recipe,
    tune_settings,
)


def test_default_space_and_holdout() -> None:
    recipe = load_recipe("search_default")
    base, space = prepare_recipe(recipe)
    assert [p.key for p in space] == ["loss.alpha", "loss.beta", "loss.gamma", "hash.bits"]
    assert base["data"]["holdout"] == DEFAULT_HOLDOUT
    assert base["tune"]["objective"] == "single" and base["tune"]["metric"] == "unseen/mAP"
    # a recipe's own data.holdout wins over tune.holdout
    base, _ = prepare_recipe(load_recipe("search_default", ["data.holdout=[vgg11]"]))
    assert base["data"]["holdout"] == ["vgg11"]


@pytest.mark.parametrize(
    ("tune", "needle"),
    [
        ({"objectiv": "single"}, "unknown tune keys"),
        ({"objective": "pareto"}, "tune.objective must be one of"),
        ({"metric": "mAP"}, "tune.metric must be a logged scalar"),
        ({"heartbeat": 0}, "tune.heartbeat must be a positive integer"),
        ({"max_failures": True}, "tune.max_failures must be a positive integer"),
        ({"max_retry": -1}, "tune.max_retry must be an integer >= 0"),
        ({"heartbeat": 20, "grace": 20}, "tune.grace must be longer than tune.heartbeat"),
        ({"holdout": "vgg11"}, "tune.holdout must be a list"),
        ("single", "tune: must be a mapping"),
    ],
)
def test_bad_tune_sections(tune: object, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        tune_settings({"tune": tune})


def test_tune_settings_fill_in_the_defaults() -> None:
    cfg = tune_settings({"tune": {"metric": "val/mAP", "seed": 3}})
    assert cfg == {**DEFAULT_TUNE, "metric": "val/mAP", "seed": 3}
    cfg["holdout"].append("x")  # a copy: the defaults stay as they were
    assert "x" not in DEFAULT_TUNE["holdout"]


def test_multi_objective_needs_a_q_and_minimises_it() -> None:
    recipe = load_recipe("search_default", ["tune.objective=multi", "tune.metric=loss/total"])
    recipe["hash"].pop("bits", None)
    recipe["search"].pop("hash.bits")
    base, _ = prepare_recipe(recipe)
    assert base["hash"]["bits"] == 32
    cfg = TuneConfig(recipe=base, trials=1, storage="sqlite://", study="s", out_dir=".")
    assert cfg.directions() == ["minimize", "minimize"]  # a loss metric, then Q
    base, space = prepare_recipe(load_recipe("search_default"))
    cfg = TuneConfig(recipe=base, trials=1, storage="sqlite://", study="s", out_dir=".")
    assert cfg.directions() == ["maximize"]
    sig = cfg.signature(space)
    assert sig["search"] == {p.key: p.as_dict() for p in cfg.params()}
    assert sig["holdout"] == sorted(DEFAULT_HOLDOUT) and sig["metric"] == "unseen/mAP"


def test_sampled_and_training_recipes() -> None:
    base, _ = prepare_recipe(load_recipe("search_default"))
    r = sampled_recipe(base, {"loss.alpha": 2.5, "hash.bits": 64, "train.lr": 0.01})
    assert r["loss"]["alpha"] == 2.5 and r["hash"]["bits"] == 64 and r["train"]["lr"] == 0.01
    assert base["loss"]["alpha"] != 2.5  # the base is not changed
    t = training_recipe(r)
    assert "search" not in t and "tune" not in t and t["loss"] == r["loss"]


def test_protocol_c_figures_as_objectives() -> None:
    from hnnframe.tune import TuneConfig, prepare_recipe

    base = load_recipe("search_default")
    base["tune"] = {"objective": "multi", "metric": ["hub/unique", "hub/pairs_d0", "unseen/mAP"]}
    recipe, _ = prepare_recipe(base)
    cfg = TuneConfig(recipe, trials=1, storage="sqlite:///x.db", study="s", out_dir="o")
    # pairs at distance 0 are minimised, the shares maximised, and Q is minimised last
    assert cfg.directions() == ["maximize", "minimize", "maximize", "minimize"]
    for bad, needle in (
        ({"metric": "hub/nope"}, "unknown protocol"),
        ({"metric": ["hub/unique", "val/mAP"]}, "objective=multi"),
        ({"metric": "hub/unique", "hub": [1]}, "tune.hub"),
    ):
        with pytest.raises(ConfigError, match=needle):
            tune_settings({"tune": bad})
