"""Helpers of the tests/test_index_*.py modules, and the ``url`` fixture: a fresh index on
each backend.

A pytest plugin (``pytest_plugins = ["index_support"]``) rather than a conftest fixture, so
that the index tests keep their helpers beside them. The PostgreSQL variant takes the server of
the session fixture ``postgres_url`` (tests/conftest.py) and gives each test a schema of its
own, dropped afterwards.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hnnframe.cli import main as hnn
from hnnframe.hashing import HashResult
from hnnframe.log import ROOT as LOG_ROOT

FP_A = "a" * 64
FP_B = "b" * 64
ROOT = Path(__file__).resolve().parents[1]


def schema_url(base: str, schema: str) -> str:
    """``base`` with ``?schema=NAME`` (or ``&schema=NAME``) added."""
    return f"{base}{'&' if '?' in base else '?'}schema={schema}"


def drop_schema(base: str, schema: str) -> None:
    import psycopg2

    conn = psycopg2.connect(base)
    conn.autocommit = True
    conn.cursor().execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    conn.close()


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[str]:
    """The URL of a PostgreSQL schema of this test's own, dropped afterwards."""
    schema = f"hnn_test_{uuid.uuid4().hex[:12]}"
    yield schema_url(postgres_url, schema)
    drop_schema(postgres_url, schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh index location: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        return str(tmp_path / "index.db")
    return str(request.getfixturevalue("pg_schema"))


def fake(n: int, bits: int = 64, seed: int = 0, start: int = 0, **kw: Any) -> list[HashResult]:
    """``n`` hash results with random codes and distinct sha256s."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(start, start + n):
        code = rng.integers(0, 256, bits // 8, dtype=np.uint8).tobytes()
        sha = hashlib.sha256(f"{seed}-{i}".encode()).hexdigest()
        out.append(
            HashResult(
                path=kw.get("path", f"/models/m{i}.onnx"), name=f"m{i}", sha256=sha, code=code,
                bits=bits, category=["resnet", "vgg", "mlp"][i % 3],
                embedding=np.zeros(4, np.float32),
            )
        )  # fmt: skip
    return out


def brute(codes: list[bytes], q: bytes) -> np.ndarray:
    """Hamming distances the slow, obvious way."""
    a = np.frombuffer(b"".join(codes), np.uint8).reshape(len(codes), -1)
    return np.unpackbits(a ^ np.frombuffer(q, np.uint8), axis=1).sum(axis=1)


def expected(
    codes: list[bytes], ids: list[int], q: bytes, k: int | None, radius: int | None
) -> list[tuple[int, int]]:
    """``(distance, id)`` pairs a search must return, by brute force."""
    d = brute(codes, q)
    pairs = sorted(zip(d.tolist(), ids, strict=True))
    if radius is not None:
        pairs = [p for p in pairs if p[0] <= radius]
    return pairs if k is None else pairs[:k]


def run_cli(capsys: pytest.CaptureFixture, *argv: Any) -> tuple[int, str, str]:
    """``hnn index ARGV`` in this process: exit status, stdout, stderr."""
    # setup_logging binds its handler to the sys.stderr of the first call in the process; capsys
    # gives every test another one, so point the handler at this test's.
    for h in logging.getLogger(LOG_ROOT).handlers:
        if isinstance(h, logging.StreamHandler):
            h.stream = sys.stderr
    rc = hnn(["index", *map(str, argv)])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def hnn_argv(*argv: Any) -> list[str]:
    """The command line of ``hnn ARGV`` in a subprocess."""
    return [sys.executable, "-m", "hnnframe.cli", *map(str, argv)]


def hnn_process(*argv: Any, env: dict[str, str] | None = None, **kw: Any) -> subprocess.Popen:
    """``hnn ARGV`` started in a subprocess, stdout and stderr piped."""
    return subprocess.Popen(
        hnn_argv(*argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env=env, **kw,
    )  # fmt: skip


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def distinct_copies(sources: list[Path], n: int, out: Path) -> list[Path]:
    """``n`` real ONNX files, copies of ``sources`` in turn, each with its own bytes (and so
    its own sha256): the copy's number is written into the model's ``doc_string``."""
    import onnx

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        src = sources[i % len(sources)]
        m = onnx.load(str(src), load_external_data=False)  # weights are stripped
        m.doc_string = f"copy {i}"
        p = out / f"{src.stem}_{i:03d}.onnx"
        onnx.save(m, str(p))
        paths.append(p)
    return paths
