"""Optuna studies (`hnn tune`): search spaces, SQLite resume, reports, faults, PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import tiny_overrides

from hnnframe.cli import main
from hnnframe.errors import ConfigError
from hnnframe.recipe import load_recipe
from hnnframe.tune import (
    DEFAULT_HOLDOUT,
    open_storage,
    parse_param,
    parse_search_space,
    prepare_recipe,
)

ROOT = Path(__file__).resolve().parent.parent


def tiny_tune_args(models: list[Path], cache: Path, epochs: int = 2, *extra: str) -> list[str]:
    """Overrides that tune search_default on the tiny models, holding out resnet_d3."""
    return [
        *tiny_overrides(models, cache, epochs=epochs),
        "data.holdout=[resnet_d3]",
        "train.threads=1",
        *extra,
    ]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def one_line_error(rc: int, err: str, needle: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2 and len(lines) == 1, err
    assert lines[0].startswith("hnn: error:") and needle in lines[0], lines[0]
    return lines[0]


def trials_of(url: str, study: str) -> list[Any]:
    import optuna

    return optuna.load_study(study_name=study, storage=open_storage(url)).get_trials()


# -- search spaces ----------------------------------------------------------------------------------
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
        ("hash.bits", {"type": "categorical", "choices": [16, 12]}, "multiple of 8"),
        ("hash.bits", {"type": "int", "low": 8, "high": 64}, "multiple of 8"),
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
    assert parse_param("train.weight_decay", [0.0, 1e-4], recipe).choices == (0.0, 1e-4)
    assert parse_param("model.backbone.hidden_dims.0", {"type": "int", "low": 64, "high": 256,
                       "log": True}, recipe).log  # fmt: skip
    with pytest.raises(ConfigError, match="no search: section"):
        parse_search_space(None, recipe)


def test_bad_space_is_one_line_before_any_trial(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rc, _, err = run_cli(capsys, "tune", "hnn_net", "--trials", "2", "--out", str(tmp_path))
    one_line_error(rc, err, "no search: section")
    bad = tmp_path / "bad.yaml"
    bad.write_text("# hnn tune bad.yaml\n_base_: " + str(ROOT / "recipes" / "hnn_net.yaml") +
                   "\nsearch:\n  loss.gama: {type: float, low: 0.1, high: 1}\n")  # fmt: skip
    rc, _, err = run_cli(capsys, "tune", str(bad), "--trials", "2", "--out", str(tmp_path))
    one_line_error(rc, err, "unknown recipe key 'loss.gama'")
    assert not (tmp_path / "study.db").exists()
    rc, _, err = run_cli(capsys, "tune", "search_default", "--trials", "2",
                         "--out", str(tmp_path), "tune.holdout=[]")  # fmt: skip
    one_line_error(rc, err, "needs held-out models")


# -- storage faults ------------------------------------------------------------------------------
def test_unreachable_storage_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = "postgresql://hnn:s3cret@127.0.0.1:9/nope"
    t0 = time.perf_counter()
    rc, _, err = run_cli(capsys, "tune", "report", "--storage", url, "--study", "x")
    line = one_line_error(rc, err, "cannot open study storage postgresql://hnn:***@127.0.0.1:9")
    assert "s3cret" not in line and "Connection refused" in line
    assert time.perf_counter() - t0 < 30
    rc, _, err = run_cli(capsys, "tune", "search_default", "--trials", "1", "--storage", url,
                         "--out", str(tmp_path / "never"))  # fmt: skip
    one_line_error(rc, err, "cannot open study storage")
    assert not (tmp_path / "never").exists()
    missing = f"sqlite:///{tmp_path}/no/such/dir/study.db"
    rc, _, err = run_cli(capsys, "tune", "report", "--storage", missing, "--study", "x")
    one_line_error(rc, err, "cannot open study storage")
    rc, _, err = run_cli(capsys, "tune", "report", "--storage", "nonsense://", "--study", "x")
    one_line_error(rc, err, "study storage")


# -- a 4-trial SQLite study ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def sqlite_study(
    tmp_path_factory: pytest.TempPathFactory, tiny_onnx_models: list[Path]
) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("tune")
    args = ["tune", "search_default", "--trials", "4", "--out", str(d / "study"), "--json",
            *tiny_tune_args(tiny_onnx_models, d, 2, "tune.pruner.n_startup_trials=2")]  # fmt: skip
    assert main(args) == 0
    return {"dir": d, "args": args, "url": f"sqlite:///{(d / 'study' / 'study.db').resolve()}"}


def test_sqlite_study_runs_and_resumes(
    sqlite_study: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    first = json.loads(capsys.readouterr().out or "{}") or None
    url, out = sqlite_study["url"], sqlite_study["dir"] / "study"
    trials = trials_of(url, "search_default")
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    for t in trials:
        assert set(t.params) == {"loss.alpha", "loss.beta", "loss.gamma", "hash.bits"}
        assert 1 in t.intermediate_values  # unseen/mAP reported per epoch for the pruner
        assert any((out / "tb" / f"trial_{t.number:04d}").glob("events.*"))
    if first is not None:
        assert first["ran"] == [0, 1, 2, 3]
    # Rerunning the same command finds the study complete and runs nothing.
    rc, o, _ = run_cli(capsys, *sqlite_study["args"])
    again = json.loads(o)
    assert rc == 0 and again["ran"] == [] and again["trials"] == 4
    # A larger N continues the same study with only the missing trial.
    args = [a if a != "4" else "5" for a in sqlite_study["args"]]
    rc, o, _ = run_cli(capsys, *args)
    more = json.loads(o)
    assert rc == 0 and more["ran"] == [4] and more["trials"] == 5


def test_best_recipe_trains_with_hnn_train(
    sqlite_study: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    best = sqlite_study["dir"] / "study" / "best.yaml"
    lines = best.read_text().splitlines()
    assert lines[0].startswith("# hnn train ") and "search" not in load_recipe(best)
    trials = [t for t in trials_of(sqlite_study["url"], "search_default") if t.value is not None]
    top = max((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    rc, o, err = run_cli(capsys, "train", str(best), "--out", str(sqlite_study["dir"] / "best"),
                         "--json")  # fmt: skip
    assert rc == 0, err
    # Training is deterministic, so the best recipe reproduces its trial's metric.
    assert json.loads(o)["final"]["unseen/mAP"] == pytest.approx(top.value)
    assert load_recipe(best)["hash"]["bits"] == top.params["hash.bits"]


def test_changed_space_is_refused(
    sqlite_study: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run_cli(capsys, *sqlite_study["args"], "tune.objective=multi")
    one_line_error(rc, err, "was made with another objective")


def test_report_prints_best_and_writes_plots(
    sqlite_study: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    rep = sqlite_study["dir"] / "report"
    rc, out, err = run_cli(capsys, "tune", "report", "--storage", sqlite_study["url"],
                           "--study", "search_default", "--out", str(rep))  # fmt: skip
    assert rc == 0, err
    assert "best trials by unseen/mAP" in out and "optuna-dashboard" in out
    assert (rep / "history.png").stat().st_size > 1000
    assert (rep / "best.yaml").exists()
    complete = [t for t in trials_of(sqlite_study["url"], "search_default")
                if t.state.name == "COMPLETE"]  # fmt: skip
    if len(complete) >= 2:
        assert (rep / "importance.png").stat().st_size > 1000
    rc, _, err = run_cli(capsys, "tune", "report", "--storage", sqlite_study["url"],
                         "--study", "nope", "--plots", "none")  # fmt: skip
    one_line_error(rc, err, "no study 'nope'")


def test_multi_objective_prints_pareto_front(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_onnx_models: list[Path]
) -> None:
    rc, out, err = run_cli(capsys, "tune", "search_default", "--trials", "2", "--objective",
                           "multi", "--out", str(tmp_path / "m"),
                           *tiny_tune_args(tiny_onnx_models, tmp_path, 1))  # fmt: skip
    assert rc == 0, err
    assert "Pareto front (max unseen/mAP, min Q)" in out
    trials = trials_of(f"sqlite:///{tmp_path / 'm' / 'study.db'}", "search_default")
    assert all(len(t.values) == 2 and t.values[1] == t.params["hash.bits"] for t in trials)


def test_failing_trials_stop_the_worker(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_onnx_models: list[Path]
) -> None:
    recipe = tmp_path / "badpool.yaml"
    recipe.write_text(f"# hnn tune {recipe}\n_base_: {ROOT / 'recipes' / 'search_default.yaml'}\n"
                      "search:\n  model.pooling: [no_such_pool, nor_this]\n")  # fmt: skip
    rc, _, err = run_cli(capsys, "tune", str(recipe), "--trials", "5", "--out", str(tmp_path / "f"),
                         "--json", *tiny_tune_args(tiny_onnx_models, tmp_path, 1))  # fmt: skip
    line = one_line_error(rc, err, "3 trials failed in a row")
    assert "no_such_pool" in line or "nor_this" in line
    trials = trials_of(f"sqlite:///{tmp_path / 'f' / 'study.db'}", "search_default")
    assert [t.state.name for t in trials] == ["FAIL"] * 3 and "error" in trials[0].user_attrs


# -- SIGKILL mid-trial ---------------------------------------------------------------------------
def _cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "hnnframe.cli", *argv]


def test_sigkill_mid_trial_is_failed_and_retried(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_onnx_models: list[Path]
) -> None:
    out = tmp_path / "k"
    args = ["tune", "search_default", "--trials", "1", "--out", str(out), "--json",
            *tiny_tune_args(tiny_onnx_models, tmp_path, 25, "tune.heartbeat=1", "tune.grace=2",
                            "tune.pruner=none")]  # fmt: skip
    proc = subprocess.Popen(_cli(*args), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip
    url = f"sqlite:///{out / 'study.db'}"
    deadline = time.time() + 60
    killed = None
    try:
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
            if not (out / "study.db").exists():
                continue
            try:
                running = [t for t in trials_of(url, "search_default")
                           if t.state.name == "RUNNING" and t.intermediate_values]  # fmt: skip
            except Exception:  # the study is still being created
                continue
            if running:
                os.kill(proc.pid, signal.SIGKILL)
                killed = running[0].number
                break
    finally:
        if proc.poll() is None and killed is None:
            proc.kill()
        proc.wait()
    assert killed is not None, proc.stderr.read().decode() if proc.stderr else ""
    assert trials_of(url, "search_default")[killed].state.name == "RUNNING"
    # Restart: the dead trial is failed after its grace period and its copy runs.
    rc, o, err = run_cli(capsys, *args)
    assert rc == 0, err
    trials = trials_of(url, "search_default")
    assert trials[killed].state.name == "FAIL"
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == killed]
    assert len(retry) == 1 and retry[0].state.name == "COMPLETE"
    assert retry[0].params == trials[killed].params
    assert json.loads(o)["ran"] == [retry[0].number]
    assert {t.state.name for t in trials} == {"FAIL", "COMPLETE"}


# -- PostgreSQL: two workers share a study -------------------------------------------------------
@pytest.mark.postgres
@pytest.mark.skipif(
    not os.environ.get("HNN_TEST_POSTGRES_URL"), reason="HNN_TEST_POSTGRES_URL unset"
)
def test_two_workers_share_a_postgres_study(tmp_path: Path, tiny_onnx_models: list[Path]) -> None:
    """Two independent `hnn tune` processes work on one study, as on two machines."""
    url = os.environ["HNN_TEST_POSTGRES_URL"]
    study = f"test-{uuid.uuid4().hex[:12]}"
    n = 4
    common = ["--trials", str(n), "--storage", url, "--study", study, "--json",
              *tiny_tune_args(tiny_onnx_models, tmp_path, 2, "tune.pruner=none")]  # fmt: skip
    procs = [
        subprocess.Popen(_cli("tune", "search_default", "--out", str(tmp_path / f"w{k}"), *common),
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for k in range(2)
    ]  # fmt: skip
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, e) in zip(procs, outs, strict=True):
        assert p.returncode == 0, e.decode()[-2000:]
    ran = [json.loads(o)["ran"] for o, _ in outs]
    assert not set(ran[0]) & set(ran[1])  # no trial ran in both workers
    trials = trials_of(url, study)
    assert sorted(ran[0] + ran[1]) == [t.number for t in trials] == list(range(n))
    assert all(t.state.name == "COMPLETE" for t in trials)
    assert {t.user_attrs["pid"] for t in trials} <= {p.pid for p in procs}
