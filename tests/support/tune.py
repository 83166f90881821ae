"""Helpers of the tests/test_tune_*.py modules: tiny tuning overrides and CLI runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from hnnframe.cli import main
from hnnframe.tune import open_storage
from support.models import tiny_overrides

ROOT = Path(__file__).resolve().parents[2]


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


def cli_argv(*argv: str) -> list[str]:
    """``hnn ARGV`` as a fresh Python process runs it."""
    return [sys.executable, "-m", "hnnframe.cli", *argv]
