"""hnnframe.tune.worker: SQLite resume, changed spaces, failures, SIGKILL, shared PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from support.tune import ROOT, cli_argv, one_line_error, run_cli, tiny_tune_args, trials_of

from hnnframe.recipe import RECIPE_DIR

pytest_plugins = ["support.tune_study"]


# -- a 4-trial SQLite study ----------------------------------------------------------------------
def test_sqlite_study_runs_and_resumes(
    sqlite_study: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    url, out = sqlite_study["url"], sqlite_study["dir"] / "study"
    trials = trials_of(url, "search_default")
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    for t in trials:
        assert set(t.params) == {"loss.alpha", "loss.beta", "loss.gamma", "hash.bits"}
        assert 1 in t.intermediate_values  # unseen/mAP reported per epoch for the pruner
        assert any((out / "tb" / f"trial_{t.number:04d}").glob("events.*"))
    assert sqlite_study["first"]["ran"] == [0, 1, 2, 3]
    # Rerunning the same command finds the study complete and runs nothing.
    rc, o, _ = run_cli(capsys, *sqlite_study["args"])
    again = json.loads(o)
    assert rc == 0 and again["ran"] == [] and again["trials"] == 4
    # A larger N continues the same study with only the missing trial.
    args = [a if a != "4" else "5" for a in sqlite_study["args"]]
    rc, o, _ = run_cli(capsys, *args)
    more = json.loads(o)
    assert rc == 0 and more["ran"] == [4] and more["trials"] == 5


def test_changed_space_is_refused(
    sqlite_study: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run_cli(capsys, *sqlite_study["args"], "tune.objective=multi")
    one_line_error(rc, err, "was made with another objective")


def test_multi_objective_prints_pareto_front(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_onnx_models: list[Path]
) -> None:
    rc, out, err = run_cli(
        capsys,
        "tune",
        "search_default",
        "--trials",
        "2",
        "--objective",
        "multi",
        "--out",
        str(tmp_path / "m"),
        *tiny_tune_args(tiny_onnx_models, tmp_path, 1),
    )
    assert rc == 0, err
    assert "Pareto front (max unseen/mAP, min Q)" in out
    trials = trials_of(f"sqlite:///{tmp_path / 'm' / 'study.db'}", "search_default")
    assert all(len(t.values) == 2 and t.values[1] == t.params["hash.bits"] for t in trials)


def test_failing_trials_stop_the_worker(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_onnx_models: list[Path]
) -> None:
    recipe = tmp_path / "badpool.yaml"
    recipe.write_text(
        f"# hnn tune {recipe}\n_base_: {RECIPE_DIR / 'search_default.yaml'}\n"
        "search:\n  model.pooling: [no_such_pool, nor_this]\n"
    )
    rc, _, err = run_cli(
        capsys,
        "tune",
        str(recipe),
        "--trials",
        "5",
        "--out",
        str(tmp_path / "f"),
        "--json",
        *tiny_tune_args(tiny_onnx_models, tmp_path, 1),
    )
    line = one_line_error(rc, err, "3 trials failed in a row")
    assert "no_such_pool" in line or "nor_this" in line
    trials = trials_of(f"sqlite:///{tmp_path / 'f' / 'study.db'}", "search_default")
    assert [t.state.name for t in trials] == ["FAIL"] * 3 and "error" in trials[0].user_attrs


# -- SIGKILL mid-trial ---------------------------------------------------------------------------
# Only a hang guard: the worker process imports torch, builds the dataset (GED into an empty
# cache) and trains its first epoch before the kill, which can take minutes on a loaded machine.
HANG_GUARD_S = 600


def test_sigkill_mid_trial_is_failed_and_retried(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_onnx_models: list[Path]
) -> None:
    out = tmp_path / "k"
    args = [
        "tune",
        "search_default",
        "--trials",
        "1",
        "--out",
        str(out),
        "--json",
        *tiny_tune_args(
            tiny_onnx_models, tmp_path, 25, "tune.heartbeat=1", "tune.grace=2", "tune.pruner=none"
        ),
    ]
    proc = subprocess.Popen(
        cli_argv(*args), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    url = f"sqlite:///{out / 'study.db'}"
    deadline = time.time() + HANG_GUARD_S
    killed = None
    try:
        # Wait for the event itself (a running trial that reported an epoch), or the worker's
        # exit, rather than for a fixed time.
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
            if not (out / "study.db").exists():
                continue
            try:
                running = [
                    t
                    for t in trials_of(url, "search_default")
                    if t.state.name == "RUNNING" and t.intermediate_values
                ]
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
def test_two_workers_share_a_postgres_study(
    postgres_url: str, tmp_path: Path, tiny_onnx_models: list[Path]
) -> None:
    """Two independent `hnn tune` processes work on one study, as on two machines."""
    study = f"test-{uuid.uuid4().hex[:12]}"
    n = 4
    common = [
        "--trials",
        str(n),
        "--storage",
        postgres_url,
        "--study",
        study,
        "--json",
        *tiny_tune_args(tiny_onnx_models, tmp_path, 2, "tune.pruner=none"),
    ]
    procs = [
        subprocess.Popen(
            cli_argv("tune", "search_default", "--out", str(tmp_path / f"w{k}"), *common),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for k in range(2)
    ]
    outs = [p.communicate(timeout=HANG_GUARD_S) for p in procs]
    for p, (_, e) in zip(procs, outs, strict=True):
        assert p.returncode == 0, e.decode()[-2000:]
    ran = [json.loads(o)["ran"] for o, _ in outs]
    assert not set(ran[0]) & set(ran[1])  # no trial ran in both workers
    trials = trials_of(postgres_url, study)
    assert sorted(ran[0] + ran[1]) == [t.number for t in trials] == list(range(n))
    assert all(t.state.name == "COMPLETE" for t in trials)
    assert {t.user_attrs["pid"] for t in trials} <= {p.pid for p in procs}
