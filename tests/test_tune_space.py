"""hnnframe.tune.space: search-space entries, the Q rule, and one-line errors before any trial."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.tune import one_line_error, run_cli

from hnnframe.errors import ConfigError
from hnnframe.recipe import RECIPE_DIR, load_recipe
from hnnframe.tune import parse_param, parse_search_space


@pytest.mark.parametrize(
    ("key", "spec", "needle"),
    [
        ("loss.alpah", {"type": "float", "low": 1, "high": 2}, "did you mean 'loss.alpha'"),
        ("loss.alpha", {"type": "normal", "low": 1, "high": 2}, "type must be one of"),
        ("loss.alpha", {"type": "float", "low": 3, "high": 2}, "above high"),
        ("loss.alpha", {"type": "float", "low": 0, "high": 2, "log": True}, "low > 0"),
        ("loss.alpha", {"type": "float", "low": 1, "high": 2, "log": True, "step": 0.5}, "log"),
        ("loss.alpha", {"type": "float", "low": 1, "hihg": 2}, "unknown field"),
        ("loss.alpha", {"type": "float", "low": "a", "high": 2}, "numbers"),
        ("loss.alpha", {"type": "categorical", "choices": []}, "non-empty"),
        ("loss.alpha", {"type": "categorical", "choices": [{"a": 1}]}, "scalars"),
        ("loss.alpha", {"type": "categorical", "choices": [1, 1]}, "repeat"),
        ("loss.alpha", {"type": "int", "low": 1, "high": 2, "step": 0.5}, "integers"),
        ("hash.bits", {"type": "categorical", "choices": [16, 12]}, "multiple of 8"),
        ("hash.bits", {"type": "categorical", "choices": [16, 0]}, "multiple of 8"),
        ("hash.bits", {"type": "categorical", "choices": [16, True]}, "multiple of 8"),
        ("hash.bits", {"type": "int", "low": 8, "high": 64}, "multiple of 8"),
        ("hash.bits", {"type": "int", "low": 12, "high": 64, "step": 8}, "multiple of 8"),
        ("hash.bits", {"type": "float", "low": 8, "high": 64}, "multiple of 8"),
        ("train.epohcs", {"type": "int", "low": 1, "high": 2}, "unknown train key"),
        ("model", {"type": "categorical", "choices": [1]}, "is a section"),
        ("encoder.type", {"type": "float", "low": 1, "high": 2}, "not a number"),
    ],
)
def test_bad_search_entries(key: str, spec: dict[str, Any], needle: str) -> None:
    recipe = load_recipe("hnn_net")
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")):
        parse_param(key, spec, recipe)


def test_good_search_entries() -> None:
    recipe = load_recipe("hnn_net")
    p = parse_param("hash.bits", {"type": "int", "low": 16, "high": 64, "step": 8}, recipe)
    assert p.distribution().step == 8
    assert parse_param("hash.bits", [8, 16, 64], recipe).choices == (8, 16, 64)
    assert parse_param("train.weight_decay", [0.0, 1e-4], recipe).choices == (0.0, 1e-4)
    assert parse_param(
        "model.backbone.hidden_dims.0", {"type": "int", "low": 64, "high": 256, "log": True}, recipe
    ).log
    with pytest.raises(ConfigError, match="no search: section"):
        parse_search_space(None, recipe)


def test_space_round_trips_as_a_signature() -> None:
    """A parsed space written as a study signature parses back to the same parameters."""
    recipe = load_recipe("search_default")
    space = parse_search_space(recipe["search"], recipe)
    again = parse_search_space({p.key: p.as_dict() for p in space}, recipe)
    assert again == space
    assert [p.distribution() for p in again] == [p.distribution() for p in space]


def test_bad_space_is_one_line_before_any_trial(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rc, _, err = run_cli(capsys, "tune", "hnn_net", "--trials", "2", "--out", str(tmp_path))
    one_line_error(rc, err, "no search: section")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "# hnn tune bad.yaml\n_base_: "
        + str(RECIPE_DIR / "hnn_net.yaml")
        + "\nsearch:\n  loss.gama: {type: float, low: 0.1, high: 1}\n"
    )
    rc, _, err = run_cli(capsys, "tune", str(bad), "--trials", "2", "--out", str(tmp_path))
    one_line_error(rc, err, "unknown recipe key 'loss.gama'")
    assert not (tmp_path / "study.db").exists()
    rc, _, err = run_cli(
        capsys, "tune", "search_default", "--trials", "2", "--out", str(tmp_path), "tune.holdout=[]"
    )
    one_line_error(rc, err, "needs held-out models")
