"""hnnframe.tune.report: best trials, the Pareto front, tables, plots, best.yaml, the CLI."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
import yaml
from support.tune import one_line_error, run_cli, trials_of

from hnnframe.errors import TuneError
from hnnframe.recipe import load_recipe
from hnnframe.tune import (
    best_trials,
    format_summary,
    open_storage,
    study_summary,
    write_best_recipe,
    write_plots,
)

pytest_plugins = ["support.tune_study"]

DISTS = {
    "loss.alpha": optuna.distributions.FloatDistribution(1.0, 100.0, log=True),
    "hash.bits": optuna.distributions.CategoricalDistribution([16, 32, 64]),
}


def made_study(tmp_path: Path, multi: bool, complete: int, seed: int = 0) -> Any:
    """A study in an SQLite file with ``complete`` finished trials (random metrics) and one
    pruned trial, as :class:`hnnframe.tune.Worker` records them."""
    storage = open_storage(f"sqlite:///{tmp_path / 'made.db'}")
    directions = ["maximize", "minimize"] if multi else ["maximize"]
    study = optuna.create_study(storage=storage, study_name="made", directions=directions)
    study.set_user_attr("hnn_signature", {"metric": "unseen/mAP"})
    rng = np.random.default_rng(seed)
    for _ in range(complete):
        params = {
            "loss.alpha": float(rng.uniform(1, 100)),
            "hash.bits": int(rng.choice([16, 32, 64])),
        }
        mAP = round(float(rng.uniform(0, 1)), 2)  # rounded so that some trials tie
        study.add_trial(
            optuna.trial.create_trial(
                params=params,
                distributions=DISTS,
                values=[mAP, params["hash.bits"]] if multi else [mAP],
                user_attrs={
                    "epochs": 3,
                    "final": {"val/mAP": mAP / 2},
                    "recipe": {"name": "t", "hash": {"bits": params["hash.bits"]}},
                },
            )
        )
    study.add_trial(
        optuna.trial.create_trial(
            params={"loss.alpha": 5.0, "hash.bits": 16},
            distributions=DISTS,
            state=optuna.trial.TrialState.PRUNED,
            intermediate_values={1: 0.0},
        )
    )
    return study


def test_best_trials_and_the_table(tmp_path: Path) -> None:
    study = made_study(tmp_path, multi=False, complete=8)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    want = sorted(done, key=lambda t: (-t.value, t.number))[:3]
    assert [t.number for t in best_trials(study, 3)] == [t.number for t in want]
    s = study_summary(study, top=3)
    assert s["states"] == {"COMPLETE": 8, "PRUNED": 1} and s["trials"] == 9
    assert s["metric"] == "unseen/mAP" and s["objective"] == "single"
    assert [r["number"] for r in s["best"]] == [t.number for t in want]
    lines = format_summary({**s, "importances": {"loss.alpha": 0.75, "hash.bits": 0.25}})
    lines = lines.splitlines()
    assert lines[0] == "study made: 9 trials (8 complete, 1 pruned)"
    assert lines[1] == "best trials by unseen/mAP:"
    assert lines[2].split() == [
        "trial",
        "unseen/mAP",
        "val/mAP",
        "epochs",
        "hash.bits",
        "loss.alpha",
    ]
    for line, t in zip(lines[3:6], want, strict=True):
        cells = line.split()
        assert cells[:4] == [str(t.number), f"{t.value:.4f}", f"{t.value / 2:.4f}", "3"]
        assert cells[4] == str(t.params["hash.bits"])
    assert lines[6] == "importance: loss.alpha 0.75, hash.bits 0.25"


def test_pareto_front_and_its_table(tmp_path: Path) -> None:
    study = made_study(tmp_path, multi=True, complete=10, seed=1)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]

    def dominated(t: Any) -> bool:
        return any(
            o.values[0] >= t.values[0] and o.values[1] <= t.values[1] and o.values != t.values
            for o in done
        )

    front = best_trials(study)
    assert {t.number for t in front} == {t.number for t in done if not dominated(t)}
    assert [t.values[0] for t in front] == sorted((t.values[0] for t in front), reverse=True)
    lines = format_summary(study_summary(study)).splitlines()
    assert lines[1] == "Pareto front (max unseen/mAP, min Q):"
    assert lines[2].split() == ["trial", "unseen/mAP", "Q", "val/mAP", "epochs", "loss.alpha"]
    assert [ln.split()[2] for ln in lines[3:]] == [str(int(t.values[1])) for t in front]


def test_no_complete_trial(tmp_path: Path) -> None:
    study = made_study(tmp_path, multi=False, complete=0)
    assert format_summary(study_summary(study)).splitlines() == [
        "study made: 1 trials (1 pruned)",
        "no complete trial yet",
    ]
    assert write_best_recipe(study, tmp_path / "best.yaml") is None
    assert not (tmp_path / "best.yaml").exists()
    assert "importance" not in write_plots(study, tmp_path / "plots")  # needs two complete


def test_best_recipe_names_its_trial(tmp_path: Path) -> None:
    study = made_study(tmp_path, multi=False, complete=4)
    [top] = best_trials(study, 1)
    path = Path(write_best_recipe(study, tmp_path / "out" / "best.yaml") or "")
    lines = path.read_text().splitlines()
    assert lines[0] == f"# hnn train {path} --out runs/made_best"
    assert (
        lines[1]
        == f"# best trial {top.number} of Optuna study 'made': unseen/mAP = {top.value:.4g}"
    )
    assert yaml.safe_load(path.read_text()) == {
        "name": "made_best",
        "hash": {"bits": top.params["hash.bits"]},
    }


@pytest.mark.parametrize("multi", [False, True])
def test_plots_png_and_html(tmp_path: Path, multi: bool) -> None:
    study = made_study(tmp_path, multi=multi, complete=4)
    names = {"history", "importance"} | ({"pareto"} if multi else set())
    png = write_plots(study, tmp_path / "png", "png", prefix="s_")
    assert set(png) == names
    for name, path in png.items():
        assert Path(path).name == f"s_{name}.png" and Path(path).stat().st_size > 1000
    if importlib.util.find_spec("plotly") is None:
        with pytest.raises(TuneError, match="--plots html needs plotly"):
            write_plots(study, tmp_path / "html", "html")
    else:
        html = write_plots(study, tmp_path / "html", "html")
        assert set(html) == names
        assert all(
            Path(p).suffix == ".html" and Path(p).stat().st_size > 1000 for p in html.values()
        )
    with pytest.raises(TuneError, match="unknown plot format 'svg'; use png or html"):
        write_plots(study, tmp_path / "svg", "svg")
    # one complete trial: no importance plot
    (tmp_path / "one").mkdir()
    one = made_study(tmp_path / "one", multi=multi, complete=1)
    assert set(write_plots(one, tmp_path / "one" / "plots", "png")) == names - {"importance"}


# -- hnn tune report on the trained 4-trial study -----------------------------------------------
def test_report_prints_best_and_writes_plots(
    sqlite_study: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    rep = sqlite_study["dir"] / "report"
    rc, out, err = run_cli(
        capsys,
        "tune",
        "report",
        "--storage",
        sqlite_study["url"],
        "--study",
        "search_default",
        "--out",
        str(rep),
    )
    assert rc == 0, err
    assert "best trials by unseen/mAP" in out and "optuna-dashboard" in out
    assert (rep / "history.png").stat().st_size > 1000
    assert (rep / "best.yaml").exists()
    complete = [
        t for t in trials_of(sqlite_study["url"], "search_default") if t.state.name == "COMPLETE"
    ]
    if len(complete) >= 2:
        assert (rep / "importance.png").stat().st_size > 1000
    rc, _, err = run_cli(
        capsys,
        "tune",
        "report",
        "--storage",
        sqlite_study["url"],
        "--study",
        "nope",
        "--plots",
        "none",
    )
    one_line_error(rc, err, "no study 'nope'")


def test_best_recipe_trains_with_hnn_train(
    sqlite_study: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    best = sqlite_study["dir"] / "study" / "best.yaml"
    lines = best.read_text().splitlines()
    assert lines[0].startswith("# hnn train ") and "search" not in load_recipe(best)
    trials = [t for t in trials_of(sqlite_study["url"], "search_default") if t.value is not None]
    top = max((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    rc, o, err = run_cli(
        capsys, "train", str(best), "--out", str(sqlite_study["dir"] / "best"), "--json"
    )
    assert rc == 0, err
    # Training is deterministic, so the best recipe reproduces its trial's metric.
    assert json.loads(o)["final"]["unseen/mAP"] == pytest.approx(top.value)
    assert load_recipe(best)["hash"]["bits"] == top.params["hash.bits"]
