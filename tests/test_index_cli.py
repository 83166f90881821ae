"""``hnn index`` end to end with a real checkpoint and real ONNX files: add, search, check,
list, remove, stats and rehash; batches with bad files, killed and run again; output into a
pipe whose reader went away; and the example and benchmark scripts.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.index import ROOT, brute, distinct_copies, fake, file_digest, hnn_process, run_cli

import hnnframe.index as hindex
from hnnframe.index.core import ADD_CHUNK

pytest_plugins = ["support.index"]


def _stats(capsys, db) -> dict:
    rc, out, _ = run_cli(capsys, "stats", "--db", db, "--json")
    assert rc == 0
    return json.loads(out)


def test_cli_add_search_check_list_remove(tiny_checkpoint, tiny_onnx_models, tmp_path, capsys):
    db = tmp_path / "hashes.db"
    models = [str(p) for p in tiny_onnx_models]
    rc, out, err = run_cli(
        capsys,
        "add",
        "--db",
        db,
        "--checkpoint",
        tiny_checkpoint,
        *models[:4],
        "--label",
        "zoo",
        "--meta",
        "source=test",
        "--json",
    )
    assert rc == 0, err
    added = json.loads(out)["results"]
    assert [r["added"] for r in added] == [True] * 4
    # Idempotent; no --checkpoint needed once the index is bound.
    rc, out, err = run_cli(capsys, "add", "--db", db, models[0], models[4])
    assert rc == 0, err
    assert "exists  #1" in out and "added   #5" in out and "1 added, 1 already" in out
    s = _stats(capsys, db)
    assert s["records"] == 5 and s["checkpoint"] == os.path.abspath(tiny_checkpoint)
    rc, out, _ = run_cli(capsys, "list", "--db", db, "--json")
    recs = json.loads(out)
    assert [r["name"] for r in recs] == [Path(m).stem for m in models[:5]]
    assert recs[0]["meta"] == {"source": "test"} and recs[0]["label"] == "zoo"
    assert recs[4]["label"] is None and len(recs[0]["code"]) == s["bits"] // 4

    # Search: a model finds itself at distance 0; hex: queries need no hashing.
    rc, out, err = run_cli(
        capsys, "search", "--db", db, models[2], f"hex:{recs[1]['code']}", "-k", "3", "--json"
    )
    assert rc == 0, err
    res = json.loads(out)
    assert res[0]["matches"][0]["distance"] == 0 and len(res[0]["matches"]) == 3
    assert res[0]["code"] == recs[2]["code"]
    assert any(m["name"] == Path(models[2]).stem for m in res[0]["matches"] if m["distance"] == 0)
    assert res[1]["matches"][0]["distance"] == 0
    rc, out, _ = run_cli(capsys, "search", "--db", db, models[2], "-k", "2")
    assert rc == 0 and out.startswith("query ") and out.count("\n") == 3

    # Check: an indexed model is a suspect (exit 1); a far code is clean (exit 0).
    rc, out, _ = run_cli(capsys, "check", "--db", db, models[3])
    assert rc == 1 and out.startswith("SUSPECT")
    codes = [bytes.fromhex(r["code"]) for r in recs]
    far = bytes(255 - b for b in codes[0])
    radius = int(brute(codes, far).min()) - 1
    rc, out, _ = run_cli(
        capsys, "check", "--db", db, f"hex:{far.hex()}", "--radius", radius, "--json"
    )
    assert rc == 0 and json.loads(out)[0]["clean"] is True

    # Remove, by id and by label.
    rc, out, _ = run_cli(capsys, "remove", "--db", db, "5", "--json")
    assert rc == 0 and json.loads(out) == {"removed": [5]}
    rc, _, _ = run_cli(capsys, "remove", "--db", db, "--label", "zoo")
    assert rc == 0 and _stats(capsys, db)["records"] == 0


def test_cli_unparsable_query_leaves_index_untouched(
    tiny_checkpoint, tiny_onnx_models, tmp_path, capsys
):
    db = tmp_path / "hashes.db"
    rc, _, err = run_cli(
        capsys, "add", "--db", db, "--checkpoint", tiny_checkpoint, tiny_onnx_models[0]
    )
    assert rc == 0, err
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07this is not a protobuf" + os.urandom(64))
    before = file_digest(db)
    # search: every query is hashed before anything is searched, and one bad query stops it
    rc, out, err = run_cli(capsys, "search", "--db", db, bad, tiny_onnx_models[1])
    assert rc == 2, (out, err)
    last = err.strip().splitlines()[-1]  # a progress bar may come before it
    assert last.startswith("hnn: error:") and "broken.onnx" in last and "Traceback" not in err
    # check: the bad upload is named on its own line, the good one still gets its verdict
    # (suspect here: exit 1); alone, the bad upload gets the unreadable status 3
    rc, out, err = run_cli(capsys, "check", "--db", db, bad, tiny_onnx_models[1])
    assert rc == 1 and "SUSPECT" in out and "resnet_d1.onnx" in out, (out, err)
    assert [ln for ln in err.splitlines() if ln.startswith("hnn: error:") and "broken.onnx" in ln]
    rc, out, err = run_cli(capsys, "check", "--db", db, bad)
    assert rc == 3 and out == "" and "broken.onnx" in err and "Traceback" not in err
    assert file_digest(db) == before and _stats(capsys, db)["records"] == 1


def test_cli_add_batch_with_bad_files(url, tiny_checkpoint, tiny_onnx_models, tmp_path, capsys):
    """Good files are added, each bad one is named on its own error line, and the exit status
    is 1; --json lists the failures with their path and error."""
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07this is not a protobuf" + os.urandom(64))
    missing = tmp_path / "missing.onnx"
    good = [str(p) for p in tiny_onnx_models[:4]]
    rc, out, err = run_cli(
        capsys,
        "add",
        "--db",
        url,
        "--checkpoint",
        tiny_checkpoint,
        good[0],
        corrupt,
        good[1],
        missing,
        good[2],
        "--chunk",
        "2",
    )
    assert rc == 1 and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("hnn: error:")]
    assert len(errors) == 2, err
    assert errors[0].startswith(f"hnn: error: {corrupt}: ")
    assert errors[1] == f"hnn: error: {missing}: no such file"
    assert [line.split()[0] for line in out.splitlines()[:-1]] == ["added"] * 3
    assert out.splitlines()[-1].startswith("3 added, 0 already in ")
    assert out.splitlines()[-1].endswith(", 2 failed")

    rc, out, err = run_cli(capsys, "add", "--db", url, *good, corrupt, missing, "--json")
    assert rc == 1
    doc = json.loads(out)
    assert (doc["added"], doc["exists"], doc["failed"]) == (1, 3, 2)
    assert [e["added"] for e in doc["results"]] == [False, False, False, True, False, False]
    failed = [e for e in doc["results"] if e["error"]]
    assert [e["path"] for e in failed] == [str(corrupt), str(missing)]
    assert all(e["error"].startswith(e["path"] + ": ") and e["id"] is None for e in failed)
    assert [line for line in err.splitlines() if line.startswith("hnn: error:")] == [
        f"hnn: error: {e['error']}" for e in failed
    ]
    with hindex.open(url, create=False) as idx:
        assert sorted(r.path for r in idx.list()) == sorted(good) and idx.verify() == []


def _count(db: Path) -> int:
    """Records committed to a SQLite index that another process is writing (0 before its
    tables exist)."""
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(db)
        try:
            return int(con.execute("SELECT COUNT(*) FROM hnn_models").fetchone()[0])
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def test_cli_add_killed_mid_batch_then_rerun(tiny_checkpoint, tiny_onnx_models, tmp_path):
    """SIGKILL after the first chunk is committed keeps what was committed; the rerun hashes and
    adds only the rest."""
    files = distinct_copies(tiny_onnx_models, 40, tmp_path / "models")
    db = tmp_path / "hashes.db"
    p = hnn_process(
        "index",
        "add",
        "--db",
        db,
        "--checkpoint",
        tiny_checkpoint,
        "--chunk",
        "1",
        "--json",
        *files,
    )
    deadline = time.monotonic() + 120
    while _count(db) == 0:
        assert p.poll() is None, p.communicate()
        assert time.monotonic() < deadline, "no chunk committed in 120 s"
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=30)
    assert p.returncode == -signal.SIGKILL
    kept = _count(db)
    assert 1 <= kept < len(files), kept  # killed after the first commit, before the last

    p = hnn_process("-v", "index", "add", "--db", db, "--chunk", "8", "--json", *files)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    doc = json.loads(out)
    assert (doc["exists"], doc["added"], doc["failed"]) == (kept, len(files) - kept, 0)
    assert [e["added"] for e in doc["results"]] == [False] * kept + [True] * (len(files) - kept)
    assert f"{kept} of {len(files)} model(s) already indexed; hashing {len(files) - kept}" in err
    with hindex.open(db, create=False) as idx:
        assert [r.path for r in idx.list()] == [str(f) for f in files] and idx.verify() == []


def test_cli_output_into_a_closed_pipe_ends_quietly(tiny_checkpoint, tiny_onnx_models, tmp_path):
    """`hnn index ... | head -3`: the subcommands, text and --json, end with status 141 and
    nothing on stderr when their reader has gone, whether their output is short or long."""
    from hnnframe.hashing import Hasher

    hasher = Hasher.from_checkpoint(tiny_checkpoint)
    big, small = tmp_path / "big.db", tmp_path / "small.db"
    models = [str(p) for p in tiny_onnx_models[:3]]
    for db in (big, small):
        with hindex.open(db) as idx:
            idx.add_models(models, hasher, checkpoint=tiny_checkpoint)
    with hindex.open(big) as idx:
        idx.add(fake(3000, bits=hasher.bits), fingerprint=hasher.fingerprint)  # a long list
        code = idx.get(1).hex
    commands = [
        ["stats", "--db", big],
        ["stats", "--db", big, "--json"],
        ["list", "--db", big, "--limit", "5"],
        ["list", "--db", big, "--limit", "5", "--json"],
        ["search", "--db", big, f"hex:{code}", "-k", "3"],
        ["search", "--db", big, f"hex:{code}", "-k", "3", "--json"],
        ["check", "--db", big, f"hex:{code}"],
        ["check", "--db", big, f"hex:{code}", "--json"],
        ["remove", "--db", big, "3000"],
        ["remove", "--db", big, "2999", "--json"],
        # These two load torch and the checkpoint: one of each output kind keeps the test short.
        ["add", "--db", small, models[0]],
        ["rehash", "--db", small, "--checkpoint", tiny_checkpoint, "--json"],
    ]
    long = [["list", "--db", big], ["list", "--db", big, "--json"]]  # read 3 lines, then close
    # A shell's pipe: stdout is block-buffered, so a short output is written only at exit.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    failures = []
    for group in (commands[:6], commands[6:], long):  # a few at a time on a small machine
        procs = [(argv, hnn_process("index", *argv, env=env)) for argv in group]
        for argv, p in procs:
            for _ in range(3 if argv in long else 0):
                assert p.stdout.readline()
            p.stdout.close()  # before the command has written anything (it is still starting)
        for argv, p in procs:
            err = p.stderr.read()
            p.wait(timeout=300)
            if p.returncode != 141 or any(
                w in err for w in ("Traceback", "BrokenPipe", "Exception")
            ):
                failures.append((argv, p.returncode, err[-500:]))
    assert not failures, failures


def test_cli_refuses_other_checkpoint_and_rehashes(
    tiny_checkpoint, tiny_onnx_models, tmp_path, capsys
):
    import torch

    db = tmp_path / "hashes.db"
    models = [tmp_path / p.name for p in tiny_onnx_models[:3]]
    for src, dst in zip(tiny_onnx_models, models, strict=False):
        shutil.copy(src, dst)
    assert run_cli(capsys, "add", "--db", db, "--checkpoint", tiny_checkpoint, *models)[0] == 0
    old_fp = _stats(capsys, db)["fingerprint"]
    # Another checkpoint (same network, other file, so another fingerprint).
    other = tmp_path / "other.pt"
    ckpt = torch.load(tiny_checkpoint, weights_only=True)
    ckpt["note"] = "retrained"
    torch.save(ckpt, other)
    rc, _, err = run_cli(capsys, "add", "--db", db, "--checkpoint", other, tiny_onnx_models[4])
    assert rc == 2 and "bound to checkpoint" in err and "hnn index rehash" in err
    rc, _, err = run_cli(capsys, "search", "--db", db, "--checkpoint", other, models[0])
    assert rc == 2 and "bound to checkpoint" in err
    rc, _, err = run_cli(
        capsys, "check", "--db", db, "--checkpoint", tmp_path / "nope.pt", models[0]
    )
    assert rc == 2 and "nope.pt" in err

    # Rehash refuses while a file is gone, unless told to drop it; then binds the new checkpoint.
    models[2].unlink()
    rc, _, err = run_cli(capsys, "rehash", "--db", db, "--checkpoint", other)
    assert rc == 2 and "gone" in err and _stats(capsys, db)["fingerprint"] == old_fp
    rc, out, err = run_cli(
        capsys, "rehash", "--db", db, "--checkpoint", other, "--drop-missing", "--json"
    )
    assert rc == 0, err
    res = json.loads(out)
    assert res["rehashed"] == 2 and res["dropped"] == [str(models[2])]
    s = _stats(capsys, db)
    assert s["fingerprint"] != old_fp and s["checkpoint"] == str(other) and s["records"] == 2
    with hindex.open(db) as idx:
        assert {r.fingerprint for r in idx.list()} == {s["fingerprint"]}
    rc, out, _ = run_cli(capsys, "search", "--db", db, models[0], "-k", "1", "--json")  # new ckpt
    assert rc == 0 and json.loads(out)[0]["matches"][0]["distance"] == 0
    rc, _, err = run_cli(capsys, "search", "--db", db, "--checkpoint", tiny_checkpoint, models[0])
    assert rc == 2 and "bound to checkpoint" in err


def test_cli_user_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HNN_INDEX_DB", raising=False)
    cases = [
        (["list"], "--db"),
        (["list", "--db", tmp_path / "missing.db"], "no hash index"),
        (["add", "--db", tmp_path / "new.db", "x.onnx"], "--checkpoint"),
        (["add", "--db", tmp_path / "new.db", "x.onnx", "--meta", "novalue"], "key=value"),
        (["remove", "--db", tmp_path / "new.db"], "ids or sha256"),
        (
            ["add", "--db", tmp_path / "n2.db", "--checkpoint", tmp_path / "no.pt", "x.onnx"],
            "no.pt",
        ),
    ]
    for argv, msg in cases:
        rc, _, err = run_cli(capsys, *argv)
        assert rc == 2 and msg in err and err.count("\n") == 1, (argv, err)
    rc, _, err = run_cli(capsys, "add", "--db", tmp_path / "n3.db", "--chunk", "0", "x.onnx")
    assert (rc, err) == (2, "hnn: error: --chunk must be at least 1, not 0\n")
    assert not (tmp_path / "n3.db").exists()
    with pytest.raises(SystemExit):
        run_cli(capsys, "add", "--help")
    assert f"(default {ADD_CHUNK})" in capsys.readouterr().out


def test_benchmark_runs(tmp_path):
    out = tmp_path / "bench.md"
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_index.py"),
            "--sizes",
            "2000",
            "--bits",
            "64",
            "128",
            "--queries",
            "3",
            "--baseline-queries",
            "2",
            "--store-size",
            "500",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert (
        text.startswith("# Hash index search benchmark") and "bench_index.py --sizes 2000" in text
    )
    assert "returned the same top-k distances as the numpy scan in" in text


def test_example_indexes_and_checks(tiny_checkpoint, tiny_onnx_models, tmp_path):
    models = [str(p) for p in tiny_onnx_models]
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "index_zoo.py"),
            "--checkpoint",
            str(tiny_checkpoint),
            "--db",
            str(tmp_path / "zoo.db"),
            "--models",
            *models[:-1],
            "--holdout",
            models[-1],
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert r.returncode in (0, 1), r.stderr
    assert "indexed 5 models" in r.stdout and "held-out" in r.stdout


@pytest.mark.slow
def test_readme_check_example(tiny_checkpoint: Path, tmp_path: Path) -> None:
    # examples/readme_check.py writes the README's `hnn index check` session: every tier it
    # shows (exact file, weight match, same architecture) and the exit statuses must be real.
    readme = tmp_path / "README.md"
    readme.write_text(
        "# x\n<!-- readme-check:begin -->\nPLACEHOLDER\n<!-- readme-check:end -->\ntail\n"
    )
    p = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "readme_check.py"),
            "--checkpoint",
            str(tiny_checkpoint),
            "--arch",
            "squeezenet1_1",
            "--other",
            "alexnet",
            "--write",
            str(readme),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    text = readme.read_text()
    assert "PLACEHOLDER" not in text and text.endswith("<!-- readme-check:end -->\ntail\n")
    block = text.split("<!-- readme-check:begin -->")[1].split("```\n<!-- readme-check:end -->")[0]
    checks = block.split("$ hnn index check")[1:]
    assert len(checks) == 3
    for check, tier, status in zip(
        checks, ("exact file", "weight match", "same architecture"), ("1", "1", "0"), strict=True
    ):
        assert f"{tier} (" in check or f": {tier}" in check, check
        assert check.rstrip().endswith(f"$ echo $?\n{status}"), check
