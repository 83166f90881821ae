"""Shared fixtures: tiny real models exported to real ONNX files (tests/support/models.py),
and a PostgreSQL server (tests/support/postgres_server.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import postgres_server
from support.models import tiny_checkpoint as train_tiny_checkpoint
from support.models import tiny_models


@pytest.fixture(scope="session")
def tiny_onnx_models(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Six real (weight-stripped) ONNX files of three tiny architecture families."""
    return tiny_models(tmp_path_factory.mktemp("tiny_onnx"))


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory, tiny_onnx_models: list[Path]) -> Path:
    """A real checkpoint of the paper recipe trained for 3 epochs on the tiny models."""
    return train_tiny_checkpoint(tiny_onnx_models, tmp_path_factory.mktemp("tiny_run"))


# -- PostgreSQL -------------------------------------------------------------------------------------
def pytest_report_header(config: pytest.Config) -> str:
    return postgres_server.plan()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL: ``HNN_TEST_POSTGRES_URL``, or a throwaway cluster (see
    tests/support/postgres_server.py); skips the test when neither is available."""
    url = os.environ.get(postgres_server.ENV)
    if url:
        yield url
        return
    b = postgres_server.bindir()
    if b is None:
        pytest.skip(postgres_server.plan())
    cluster = postgres_server.ThrowawayCluster(b)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
