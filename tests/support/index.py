"""Helpers of the tests/test_index_*.py modules, and the ``url`` fixture: a fresh index on
each backend.

A pytest plugin (``pytest_plugins = ["support.index"]``) rather than a conftest fixture, so
that the index tests keep their helpers beside them. The PostgreSQL variant takes the server of
the session fixture ``postgres_url`` (tests/conftest.py) and gives each test a schema of its
own, dropped afterwards.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
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
ROOT = Path(__file__).resolve().parents[2]


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
                path=kw.get("path", f"/models/m{i}.onnx"),
                name=f"m{i}",
                sha256=sha,
                code=code,
                bits=bits,
                category=["resnet", "vgg", "mlp"][i % 3],
                embedding=np.zeros(4, np.float32),
            )
        )
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
        hnn_argv(*argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
        **kw,
    )


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


# -- the weight tier (tests/test_index_weights.py) --------------------------------------------------
def make_schema1_index(url: str, records: list[HashResult], fingerprint: str) -> None:
    """An index as hnnframe's schema 1 made it (no weight tables, no ``structure`` column),
    holding ``records``: the schema-1 statements the backends keep (``BASE_SCHEMA``, never
    edited) and rows written with schema 1's columns."""
    import json

    from hnnframe.index.postgres import BASE_SCHEMA as PG_BASE
    from hnnframe.index.postgres import _code_bits
    from hnnframe.index.sqlite import BASE_SCHEMA as SQLITE_BASE

    meta = {
        "schema_version": "1",
        "created_at": "2025-01-01T00:00:00+00:00",
        "epoch": "0",
        "bits": str(records[0].bits),
        "fingerprint": fingerprint,
    }
    cols = "key, name, path, sha256, code, bits, fingerprint, category, label, meta, added_at"
    if url.startswith("postgresql"):
        import psycopg2

        base, _, schema = url.rpartition("schema=")
        conn = psycopg2.connect(base.rstrip("?&"))
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute(f'CREATE SCHEMA "{schema}"')
        cur.execute(f'SET search_path TO "{schema}"')
        cur.execute(PG_BASE)
        for r in records:
            cur.execute(
                f"INSERT INTO hnn_models ({cols}, code_bits) VALUES (%s, %s, %s, %s, %s, %s, %s,"
                " %s, %s, %s::jsonb, %s, %s::varbit)",
                (
                    r.sha256,
                    r.name,
                    r.path,
                    r.sha256,
                    r.code,
                    r.bits,
                    fingerprint,
                    r.category,
                    None,
                    json.dumps({}),
                    meta["created_at"],
                    _code_bits(r.code),
                ),
            )
        put = "INSERT INTO hnn_meta (key, value) VALUES (%s, %s)"
    else:
        import sqlite3

        conn = sqlite3.connect(url, isolation_level=None)
        cur = conn.cursor()
        for stmt in filter(str.strip, SQLITE_BASE.split(";")):
            cur.execute(stmt)
        for r in records:
            cur.execute(
                f"INSERT INTO hnn_models ({cols}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    r.sha256,
                    r.name,
                    r.path,
                    r.sha256,
                    r.code,
                    r.bits,
                    fingerprint,
                    r.category,
                    None,
                    "{}",
                    meta["created_at"],
                ),
            )
        put = "INSERT INTO hnn_meta (key, value) VALUES (?, ?)"
    for k, v in meta.items():
        cur.execute(put, (k, v))
    conn.close()


#: The copy kinds of the bed of ``weight_bed``.
WEIGHT_KINDS = (
    "exact_onnx",
    "exact_renamed",
    "exact_statedict",
    "finetune",
    "int8_dynamic",
    "fp16",
    "permute",
)


@pytest.fixture(scope="session")
def weight_bed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The MLPs of a tiny weight test bed, by kind (``base``, ``seed0``, ``seed1``, copies),
    plus files made here: a byte copy, an ONNX re-saved with other bytes, an ONNX with its
    weights in an external data file, the same without that file, and an ONNX export of an
    independently trained model."""
    root = tmp_path_factory.mktemp("wbed") / "bed"
    from hnnframe.weights.testbed import Plan, build_testbed, load_manifest

    build_testbed(
        root, tiny=True, plan=Plan(bases=1, seeds=2, others=0, kinds=WEIGHT_KINDS, archs=("mlp",))
    )
    files: dict[str, Path] = {}
    for mid, e in load_manifest(root)["models"].items():
        files[mid.removeprefix("mlp-").removeprefix("base0-").replace("base0", "base")] = (
            root / e["file"]
        )
    onnx_file = files["exact_onnx"]
    extra = root / "extra"
    extra.mkdir()
    files["byte_copy"] = extra / "renamed.onnx"
    shutil.copy(onnx_file, files["byte_copy"])
    import onnx

    m = onnx.load(str(onnx_file))
    m.doc_string = "re-saved"
    files["resaved"] = extra / "resaved.onnx"
    onnx.save(m, str(files["resaved"]))
    (extra / "ext").mkdir()
    files["external"] = extra / "ext" / "external.onnx"
    onnx.save(
        m,
        str(files["external"]),
        save_as_external_data=True,
        location="external.data",
        size_threshold=0,
    )
    (extra / "gone").mkdir()
    files["external_gone"] = extra / "gone" / "external.onnx"  # its data file is removed
    m = onnx.load(str(onnx_file))
    m.doc_string = "weights left behind"
    onnx.save(
        m,
        str(files["external_gone"]),
        save_as_external_data=True,
        location="external.data",
        size_threshold=0,
    )
    (extra / "gone" / "external.data").unlink()
    files["seed1_onnx"] = extra / "seed1.onnx"
    _export(files["seed1"], files["seed1_onnx"])
    return files


def _export(weights: Path, out: Path) -> None:
    """An ONNX export, with its weights, of the MLP in ``weights``."""
    from hnnframe.weights import copies, testbed_models

    model = testbed_models.build("mlp", tiny=True)
    model.load_state_dict(copies.load_state(weights))
    copies.export_onnx(model, testbed_models.probe("mlp", tiny=True), out, fold=True)


@pytest.fixture(scope="session")
def weight_hasher(tiny_checkpoint: Path) -> Any:
    """The hasher of the tiny checkpoint (tests/conftest.py)."""
    from hnnframe.hashing import Hasher

    return Hasher.from_checkpoint(tiny_checkpoint)


def random_prints(n: int, seed: int = 0) -> list[Any]:
    """``n`` weight fingerprints with random 256-bit codes and one distinct digest each."""
    from hnnframe.weights.digests import TensorDigest
    from hnnframe.weights.fingerprint import WeightFingerprint

    rng = np.random.default_rng(seed)
    return [
        WeightFingerprint(
            path=f"/w/{i}.onnx",
            format="onnx",
            sha256=f"{i:064x}",
            bits=256,
            code=rng.integers(0, 256, 32, dtype=np.uint8).tobytes(),
            digests=[TensorDigest(f"{seed:04x}{i:028x}", 10)],
            tensors=1,
            params=10,
            largest=10,
        )
        for i in range(n)
    ]
