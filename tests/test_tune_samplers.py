"""hnnframe.tune.samplers: Optuna samplers and pruners from the tune: section."""

from __future__ import annotations

import optuna
import pytest

from hnnframe.errors import ConfigError
from hnnframe.tune import make_pruner, make_sampler


def test_samplers_by_name_and_spec() -> None:
    assert isinstance(make_sampler("random", 1), optuna.samplers.RandomSampler)
    assert isinstance(make_sampler(None, 1), optuna.samplers.TPESampler)
    s = make_sampler({"type": "tpe", "n_startup_trials": 7}, 1)
    assert isinstance(s, optuna.samplers.TPESampler) and s._n_startup_trials == 7
    # the same seed samples the same values
    a, b = (optuna.create_study(sampler=make_sampler("random", 5)) for _ in range(2))
    assert a.ask().suggest_float("x", 0, 1) == b.ask().suggest_float("x", 0, 1)
    with pytest.raises(ConfigError, match="tune.sampler type 'cmaes'; valid: tpe, random"):
        make_sampler("cmaes", 1)
    with pytest.raises(ConfigError, match="tune.sampler: "):
        make_sampler({"type": "random", "no_such_arg": 1}, 1)


def test_pruners_by_name_and_spec() -> None:
    assert isinstance(make_pruner("none", 10), optuna.pruners.NopPruner)
    assert isinstance(make_pruner(None, 10), optuna.pruners.NopPruner)
    assert isinstance(make_pruner({"type": "median"}, 10), optuna.pruners.MedianPruner)
    hb = make_pruner("hyperband", 30)
    assert isinstance(hb, optuna.pruners.HyperbandPruner) and hb._max_resource == 30
    with pytest.raises(ConfigError, match="tune.pruner type 'asha'"):
        make_pruner("asha", 10)
    with pytest.raises(ConfigError, match="tune.pruner: "):
        make_pruner({"type": "median", "n_warmup_steps": "x", "bogus": 1}, 10)
