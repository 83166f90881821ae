"""Storage of the hash index on both backends: records, idempotent adds, the binding to a
checkpoint, removes and stats, concurrent writers, writers killed mid-transaction, and damaged
or foreign files.

Records carry random codes: the store is what is under test. Every test runs on SQLite and on
PostgreSQL (the ``url`` fixture of tests/support/index.py: a schema of its own per test).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from support.index import FP_A, FP_B, ROOT, expected, fake, run_cli

import hnnframe.index as hindex
from hnnframe.errors import IndexStoreError

pytest_plugins = ["support.index"]


# -- store and API, on both backends ----------------------------------------------------------------
def test_add_search_roundtrip(url: str) -> None:
    recs = fake(300, bits=64)
    recs[7].code = recs[250].code  # a tie at distance 0
    with hindex.open(url) as idx:
        res = idx.add(
            recs,
            fingerprint=FP_A,
            checkpoint="ckpt/model.pt",
            label="zoo",
            meta={"src": "test", "n": 1},
        )
        assert [r.added for r in res] == [True] * 300
        ids = [r.id for r in res]
        assert ids == sorted(ids)
        b = idx.binding
        assert (b.bits, b.fingerprint, b.checkpoint) == (64, FP_A, os.path.abspath("ckpt/model.pt"))
        rec = idx.get(ids[3])
        assert (rec.name, rec.path, rec.sha256, rec.code, rec.bits, rec.fingerprint) == (
            "m3",
            "/models/m3.onnx",
            recs[3].sha256,
            recs[3].code,
            64,
            FP_A,
        )
        assert (rec.category, rec.label, rec.meta) == ("resnet", "zoo", {"src": "test", "n": 1})
        assert rec.added_at.endswith("+00:00") and rec.hex == recs[3].code.hex()
        codes = [r.code for r in recs]
        for q in (recs[7], recs[100].code, recs[5].hex):  # result, bytes, hex
            qcode = (
                q.code if hasattr(q, "code") else q if isinstance(q, bytes) else bytes.fromhex(q)
            )
            for k, radius in [(10, None), (3, 20), (None, 24), (1000, None)]:
                got = [(m.distance, m.record.id) for m in idx.search(q, k=k, radius=radius)]
                assert got == expected(codes, ids, qcode, k, radius)
        assert len(idx) == 300


def test_add_is_idempotent_by_sha256(url: str) -> None:
    recs = fake(5)
    with hindex.open(url) as idx:
        first = idx.add(recs, fingerprint=FP_A)
        again = idx.add(recs, fingerprint=FP_A)
        assert [r.id for r in again] == [r.id for r in first]
        assert not any(r.added for r in again)
        # The same file under another name and path is still the same record.
        moved = fake(1)[0]
        moved.path, moved.name = "/elsewhere/copy.onnx", "copy"
        [r] = idx.add([moved], fingerprint=FP_A, label="other")
        assert (r.added, r.id) == (False, first[0].id)
        assert idx.get(r.id).name == "m0" and idx.get(r.id).label is None
        # A model without a file (torchvision:NAME) is keyed by its URI.
        tv = fake(1, seed=9)[0]
        tv.path, tv.sha256 = "torchvision:resnet18", None
        a, b = idx.add([tv], fingerprint=FP_A), idx.add([tv], fingerprint=FP_A)
        assert a[0].added and not b[0].added and a[0].id == b[0].id
        assert len(idx) == 6


def test_binding_refuses_other_checkpoint_and_q(url: str) -> None:
    with hindex.open(url) as idx:
        assert not idx.binding.bound and idx.search(b"\0" * 8) == []
        idx.add(fake(10, bits=32), fingerprint=FP_A)
        with pytest.raises(IndexStoreError, match="bound to checkpoint aaaaaaaaaaaa"):
            idx.add(fake(3, bits=32, seed=1), fingerprint=FP_B)
        with pytest.raises(IndexStoreError, match="32-bit codes; got a 64-bit"):
            idx.add(fake(3, bits=64, seed=1), fingerprint=FP_A)
        with pytest.raises(IndexStoreError, match="32-bit codes"):
            idx.search(fake(1, bits=64)[0])
        with pytest.raises(IndexStoreError, match="bound to checkpoint"):
            idx.check(fake(1, bits=32)[0], fingerprint=FP_B)
        with pytest.raises(IndexStoreError, match="bound to checkpoint"):
            idx.ensure_compatible(32, FP_B)
        assert len(idx) == 10  # nothing written by the refused adds


def test_list_remove_stats(url: str) -> None:
    with hindex.open(url) as idx:
        a = idx.add(fake(6), fingerprint=FP_A, label="zoo")
        b = idx.add(fake(4, seed=1), fingerprint=FP_A, label="uploads")
        assert [r.id for r in idx.list()] == [r.id for r in a + b]
        assert len(idx.list(label="uploads")) == 4
        assert len(idx.list(category="resnet")) == 2 + 2
        assert [r.id for r in idx.list(limit=3, offset=2)] == [r.id for r in (a + b)[2:5]]
        s = idx.stats()
        assert s["records"] == 10 and s["bits"] == 64 and s["fingerprint"] == FP_A
        assert s["labels"] == {"zoo": 6, "uploads": 4} and sum(s["categories"].values()) == 10
        assert s["backend"] in ("sqlite", "postgresql") and s["bytes"] > 0
        # A selector that matches nothing aborts the whole remove.
        with pytest.raises(IndexStoreError, match="no record matches '99999'"):
            idx.remove([a[0].id, 99999])
        assert len(idx) == 10
        sha = idx.get(a[1].id).sha256
        assert idx.remove([a[0].id, sha[:10]]) == [a[0].id, a[1].id]
        assert idx.remove(label="uploads") == [r.id for r in b]
        assert [r.id for r in idx.list()] == [r.id for r in a[2:]]
        assert all(m.record.id not in (a[0].id, a[1].id) for m in idx.search(b"\0" * 8, k=100))
        with pytest.raises(IndexStoreError, match="neither"):
            idx.remove(["not-an-id"])
        assert idx.verify() == []


def test_open_errors(url: str, tmp_path: Path) -> None:
    with pytest.raises(IndexStoreError, match="no hash index"):
        hindex.open(url, create=False)
    with pytest.raises(IndexStoreError):
        hindex.open(url, search="fast")
    if url.startswith("postgresql"):
        # A password (masked in the message) and a port nothing listens on.
        parts = urlsplit(url)
        bad = urlunsplit(parts._replace(netloc=f"hnn:wrong@{parts.hostname}:1"))
        with pytest.raises(IndexStoreError, match=r"cannot use PostgreSQL index .*hnn:\*\*\*@"):
            hindex.open(bad)


# -- reliability -----------------------------------------------------------------------------------
WORKER = textwrap.dedent(
    """
    import hashlib, os, sys, time
    import numpy as np
    import hnnframe.index as hindex
    from hnnframe.hashing import HashResult
    url, worker, n, batch, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    while not os.path.exists(go):
        time.sleep(0.005)
    rng = np.random.default_rng(worker)
    idx = hindex.open(url)
    for b in range(0, n, batch):
        recs = [HashResult(path=f"/w{worker}/m{i}.onnx", name=f"w{worker}-{i}",
                           sha256=hashlib.sha256(f"{worker}-{i}".encode()).hexdigest(),
                           code=rng.integers(0, 256, 8, dtype=np.uint8).tobytes(), bits=64,
                           category="c", embedding=None)
                for i in range(b, min(n, b + batch))]
        idx.add(recs, fingerprint="a" * 64, label=f"w{worker}")
        print("committed", min(n, b + batch), flush=True)
    idx.close()
    """
)


def _worker(url: str, worker: int, n: int, batch: int, go: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, url, str(worker), str(n), str(batch), str(go)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def test_concurrent_adds_lose_nothing(url: str, tmp_path: Path) -> None:
    """Four processes add at once, one record per transaction, into one index."""
    go = tmp_path / "go"
    procs = [_worker(url, w, 60, 1, go) for w in range(4)]
    time.sleep(0.3)  # let them start and wait on the go file
    go.touch()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    with hindex.open(url, create=False) as idx:
        assert len(idx) == 240
        assert idx.stats()["labels"] == {f"w{w}": 60 for w in range(4)}
        names = {r.name for r in idx.list()}
        assert names == {f"w{w}-{i}" for w in range(4) for i in range(60)}
        assert idx.verify() == []


def test_sigkill_mid_add_leaves_index_consistent(url: str, tmp_path: Path) -> None:
    """A writer killed with SIGKILL leaves whole transactions only, and the index works on."""
    batch = 400
    go = tmp_path / "go"
    go.touch()
    for attempt, delay in enumerate((0.0, 0.02, 0.05)):
        p = _worker(url, 10 + attempt, 100 * batch, batch, go)
        committed = 0
        while committed < 2 * batch:  # wait for two commits, then kill inside a later batch
            line = p.stdout.readline()
            assert line, p.stderr.read()
            committed = int(line.split()[1])
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        with hindex.open(url, create=False) as idx:
            n = len(idx.list(label=f"w{10 + attempt}"))
            assert n % batch == 0 and n >= committed, (n, committed)
            assert idx.verify() == []
            [r] = idx.add(fake(1, seed=100 + attempt), fingerprint=FP_A)  # still writable
            assert r.added and idx.search(fake(1, seed=100 + attempt)[0], k=1)[0].distance == 0


def test_corrupted_and_foreign_files_give_clear_errors(tmp_path: Path, capsys) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(os.urandom(10000))
    with pytest.raises(IndexStoreError, match="not an hnn index"):
        hindex.open(garbage)
    assert garbage.stat().st_size == 10000
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    with pytest.raises(IndexStoreError, match="SQLite database but not an hnn index"):
        hindex.open(other)
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(IndexStoreError, match="empty"):
        hindex.open(empty, create=False)
    with pytest.raises(IndexStoreError, match="directory"):
        hindex.open(tmp_path)

    good = tmp_path / "good.db"
    with hindex.open(good) as idx:
        idx.add(fake(2000), fingerprint=FP_A)
    data = good.read_bytes()
    assert len(data) > 16 * 4096
    damaged = tmp_path / "damaged.db"  # pages in the middle overwritten
    damaged.write_bytes(data[: 4 * 4096] + os.urandom(8 * 4096) + data[12 * 4096 :])
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(data[: len(data) // 3])
    for bad in (damaged, truncated):
        with pytest.raises(IndexStoreError, match="corrupted|malformed|not an hnn index"):
            with hindex.open(bad, create=False) as idx:  # open may pass; a full read may not
                idx.search(fake(1)[0], k=5)
                problems = idx.verify()
                if problems:
                    raise IndexStoreError("; ".join(problems))
    # The CLI says the same in one line, exit 2, no traceback.
    for bad in (garbage, other, damaged):
        rc, out, err = run_cli(capsys, "stats", "--db", bad, "--verify")
        assert rc in (1, 2) and "Traceback" not in err
        if rc == 2:
            assert err.startswith("hnn: error:") and err.count("\n") == 1
        else:
            assert "verify" in out
