"""The 4-trial SQLite study that the worker and report tests share (tests/test_tune_*.py).

A pytest plugin (``pytest_plugins = ["support.tune_study"]``) rather than a conftest fixture,
so that the study trains once per session for both modules.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from hnnframe.cli import main
from support.tune import tiny_tune_args


@pytest.fixture(scope="session")
def sqlite_study(
    tmp_path_factory: pytest.TempPathFactory, tiny_onnx_models: list[Path]
) -> dict[str, Any]:
    """``hnn tune search_default --trials 4 --json`` on the tiny models, in an SQLite file.

    Returns its folder, its arguments, its storage URL and the JSON it printed.
    """
    d = tmp_path_factory.mktemp("tune")
    args = [
        "tune",
        "search_default",
        "--trials",
        "4",
        "--out",
        str(d / "study"),
        "--json",
        *tiny_tune_args(tiny_onnx_models, d, 2, "tune.pruner.n_startup_trials=2"),
    ]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(args)
    assert rc == 0
    return {
        "dir": d,
        "args": args,
        "url": f"sqlite:///{(d / 'study' / 'study.db').resolve()}",
        "first": json.loads(out.getvalue()),
    }
