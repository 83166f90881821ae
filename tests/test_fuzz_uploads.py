"""The fuzz suite of hostile uploads (docs/index-guide.md, "Security"): the named regressions
of the hostile-uploads issue and a seeded generator's mutations of valid ONNX, safetensors,
state-dict, GGUF and config uploads (tests/support/hostile_files.py). Each upload must give one
error line or a verdict, never a traceback; no file outside the upload may be opened (an audit hook
records every open); and nothing may be lost from the batch it came in. The longer run is
benchmarks/fuzz_uploads.py.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
import torch
from support.hostile_files import AUDITED_CLI, base_onnx, generate
from support.index import ROOT

from hnnframe.errors import HnnError
from hnnframe.weights.fingerprint import fingerprint

SEED, RANDOM_CASES = 20261207, 60


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("hostile")
    buf = io.BytesIO()
    torch.save({"w": torch.randn(8, 16), "b": torch.randn(16)}, buf)
    mk, cases = generate(root, SEED, RANDOM_CASES, buf.getvalue())
    good = root / "good"
    good.mkdir()
    onnx.save(base_onnx(0), str(good / "protected.onnx"))
    (good / "copy").mkdir()
    onnx.save(base_onnx(0), str(good / "copy" / "upload.onnx"))  # the same bytes: exact file
    onnx.save(base_onnx(1), str(good / "other.onnx"))
    return {"maker": mk, "cases": cases, "good": good}


def _audited(bed: dict, tmp_path: Path, *argv: object) -> tuple[int, str, str, list[str]]:
    log = tmp_path / "audit.json"
    env = {
        **os.environ,
        "HNN_AUDIT_OUTSIDE": str(bed["maker"].outside),
        "HNN_AUDIT_LOG": str(log),
        "PYTHONPATH": str(ROOT),
    }
    r = subprocess.run(
        [sys.executable, "-c", AUDITED_CLI, *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=900,
    )
    return r.returncode, r.stdout, r.stderr, json.loads(log.read_text())


def test_every_reader_gives_a_result_or_one_error(bed: dict) -> None:
    """In this process: every file's weights either fingerprint or raise an HnnError."""
    crashes = []

    def hang(*_: object) -> None:  # a FIFO opened would block forever: fail instead
        raise TimeoutError("no result in 60 s")

    old = signal.signal(signal.SIGALRM, hang)
    try:
        for case in bed["cases"]:
            signal.alarm(60)
            try:
                fingerprint(case.path, 64)
            except HnnError as e:
                assert "Traceback" not in str(e)
            except BaseException as e:  # noqa: BLE001 - exactly what the suite is looking for
                crashes.append(f"{case.kind} {case.path.name}: {type(e).__name__}: {e}"[:300])
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, old)
    assert crashes == []


def test_check_of_a_hostile_batch_reports_every_upload(bed: dict, tiny_checkpoint, tmp_path):
    """One ``check`` over every hostile upload and one true copy: the copy is SUSPECT (exit 1),
    every other upload has its verdict or its own error, no traceback, nothing outside the
    uploads opened."""
    db = tmp_path / "index.db"
    good = bed["good"]
    rc, _, err, hits = _audited(
        bed,
        tmp_path,
        "index",
        "add",
        "--db",
        db,
        "--checkpoint",
        tiny_checkpoint,
        good / "protected.onnx",
        good / "other.onnx",
    )
    assert rc == 0 and hits == [], err
    uploads = [str(c.path) for c in bed["cases"]] + [str(good / "copy" / "upload.onnx")]
    rc, out, err, hits = _audited(bed, tmp_path, "index", "check", "--db", db, "--json", *uploads)
    assert "Traceback" not in err and hits == []
    assert rc == 1, err[-2000:]
    rows = json.loads(out)
    assert [r["upload"] for r in rows] == uploads
    assert rows[-1]["suspect"] and rows[-1]["tier"] == "exact file"
    errors = [r for r in rows if "error" in r]
    assert errors and all(r["unreadable"] for r in errors)
    named = {c.kind: str(c.path) for c in bed["cases"]}
    by_upload = {r["upload"]: r for r in rows}
    for kind in (
        "st-shape-1e30",
        "st-negative-offset",
        "config-100k-layers",
        "upload-fifo",
        "upload-loop",
        "upload-directory",
        "config-link-outside",
    ):
        assert "error" in by_upload[named[kind]], kind
    assert "--max-layers" in by_upload[named["config-100k-layers"]]["error"]
    # Text: one error line per unreadable upload, and no line forged by a file name.
    rc, out, err, hits = _audited(bed, tmp_path, "index", "check", "--db", db, *uploads)
    assert rc == 1 and hits == [] and "Traceback" not in err
    lines = (out + err).splitlines()
    assert not [ln for ln in lines if ln.startswith("clean    spoof")]
    assert not [ln for ln in lines if "\u202e" in ln]
    assert sum(ln.startswith("hnn: error:") for ln in lines) == len(errors)


def test_add_of_a_hostile_batch_keeps_the_good_files(bed: dict, tiny_checkpoint, tmp_path):
    db = tmp_path / "index.db"
    good = bed["good"]
    files = [str(c.path) for c in bed["cases"]]
    keep = [str(good / "protected.onnx"), str(good / "other.onnx")]
    rc, out, err, hits = _audited(
        bed,
        tmp_path,
        "index",
        "add",
        "--db",
        db,
        "--checkpoint",
        tiny_checkpoint,
        "--json",
        *files[:40],
        *keep,
        *files[40:],
    )
    assert rc == 1 and hits == [] and "Traceback" not in err, err[-2000:]
    results = {r["path"]: r for r in json.loads(out)["results"]}
    assert all(results[k]["added"] for k in keep)
    assert all("error" in r or r.get("id") for r in results.values())
