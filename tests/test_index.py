"""The model hash index (hnnframe.index, `hnn index`), on SQLite and on PostgreSQL.

Store and search tests use random codes: the store is what is under test. CLI tests hash the tiny
ONNX models with a real checkpoint. The PostgreSQL variants run when HNN_TEST_POSTGRES_URL is set
(.ci/run sets it), each in a schema of its own that is dropped afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

import hnnframe.index as hindex
from hnnframe.cli import main as hnn
from hnnframe.errors import IndexStoreError
from hnnframe.hashing import HashResult
from hnnframe.index.scan import HammingScanner

PG_ENV = "HNN_TEST_POSTGRES_URL"
FP_A = "a" * 64
FP_B = "b" * 64
ROOT = Path(__file__).resolve().parents[1]


# -- fixtures and helpers ---------------------------------------------------------------------------
def _pg_url(schema: str) -> str:
    base = os.environ[PG_ENV]
    return f"{base}{'&' if '?' in base else '?'}schema={schema}"


def _drop_schema(schema: str) -> None:
    import psycopg2

    conn = psycopg2.connect(os.environ[PG_ENV])
    conn.autocommit = True
    conn.cursor().execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    conn.close()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgres",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} is not set"),
            ],
        ),
    ]
)
def url(request: pytest.FixtureRequest, tmp_path: Path):
    """A fresh index location: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield str(tmp_path / "index.db")
        return
    schema = f"hnn_test_{uuid.uuid4().hex[:12]}"
    yield _pg_url(schema)
    _drop_schema(schema)


def fake(n: int, bits: int = 64, seed: int = 0, start: int = 0, **kw) -> list[HashResult]:
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


def expected(codes: list[bytes], ids: list[int], q: bytes, k, radius) -> list[tuple[int, int]]:
    d = brute(codes, q)
    pairs = sorted(zip(d.tolist(), ids, strict=True))
    if radius is not None:
        pairs = [p for p in pairs if p[0] <= radius]
    return pairs if k is None else pairs[:k]


def run_cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    rc = hnn(["index", *map(str, argv)])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the in-memory scanner --------------------------------------------------------------------------
@pytest.mark.parametrize("bits", [8, 16, 32, 64, 72, 128, 256])
def test_scanner_matches_brute_force(bits: int) -> None:
    rng = np.random.default_rng(bits)
    n = 1000
    codes = [rng.integers(0, 256, bits // 8, dtype=np.uint8).tobytes() for _ in range(n)]
    codes[10] = codes[500] = codes[999]  # exact ties across chunks
    ids = list(range(5, 5 + 3 * n, 3))
    sc = HammingScanner(bits, chunk_rows=97)  # many chunks
    sc.add(ids[:400], codes[:400])
    sc.add(ids[400:], codes[400:])
    assert len(sc) == n
    for qi in (0, 10, 999):
        q = codes[qi]
        assert sc.distances(q).tolist() == brute(codes, q).tolist()
        for k, radius in [(1, None), (10, None), (n + 5, None), (None, bits // 4), (7, bits // 3),
                          (10, 0), (None, 0)]:  # fmt: skip
            got_ids, got_d = sc.search(q, k=k, radius=radius)
            want = expected(codes, ids, q, k, radius)
            assert list(zip(got_d.tolist(), got_ids.tolist(), strict=True)) == want


def test_scanner_rejects_bad_input() -> None:
    sc = HammingScanner(64)
    assert sc.search(b"\0" * 8, k=3)[0].size == 0  # empty
    with pytest.raises(IndexStoreError, match="bits"):
        sc.add([1], [b"\0" * 4])
    with pytest.raises(IndexStoreError, match="32 bits"):
        sc.search(b"\0" * 4)
    sc.add([3], [b"\0" * 8])
    with pytest.raises(ValueError, match="increasing"):
        sc.add([2], [b"\0" * 8])
    with pytest.raises(IndexStoreError, match="multiple of 8"):
        HammingScanner(12)


# -- store and API, on both backends ----------------------------------------------------------------
def test_add_search_roundtrip(url: str) -> None:
    recs = fake(300, bits=64)
    recs[7].code = recs[250].code  # a tie at distance 0
    with hindex.open(url) as idx:
        res = idx.add(recs, fingerprint=FP_A, checkpoint="ckpt/model.pt", label="zoo",
                      meta={"src": "test", "n": 1})  # fmt: skip
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


def test_check_verdicts(url: str) -> None:
    recs = fake(50, bits=64)
    with hindex.open(url) as idx:
        idx.add(recs, fingerprint=FP_A)
        copy = bytearray(recs[20].code)
        copy[0] ^= 0b111  # 3 bits away
        v = idx.check(bytes(copy), fingerprint=FP_A)
        assert v.radius == hindex.default_radius(64) == 8
        assert not v.clean and v.matches[0].distance == 3 and v.matches[0].record.name == "m20"
        assert idx.check(bytes(copy), radius=2).clean
        far = bytes(255 - b for b in recs[20].code)
        d = brute([r.code for r in recs], far)
        assert idx.check(far, radius=int(d.min()) - 1).clean
        assert json.loads(json.dumps(v.to_dict()))["clean"] is False


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


def test_search_follows_other_writers(url: str) -> None:
    recs = fake(40)
    with hindex.open(url) as reader, hindex.open(url) as writer:
        writer.add(recs[:20], fingerprint=FP_A)
        assert len(reader.search(recs[0], k=100)) == 20  # loads the codes
        writer.add(recs[20:], fingerprint=FP_A)
        hits = reader.search(recs[30], k=1)
        assert hits[0].distance == 0 and hits[0].record.name == "m30"  # appended rows
        writer.remove([str(hits[0].record.id)])
        assert all(m.record.name != "m30" for m in reader.search(recs[30], k=100))  # reloaded


def test_open_errors(url: str, tmp_path: Path) -> None:
    with pytest.raises(IndexStoreError, match="no hash index"):
        hindex.open(url, create=False)
    with pytest.raises(IndexStoreError):
        hindex.open(url, search="fast")
    if url.startswith("postgresql"):
        bad = url.replace("hnn:hnn@", "hnn:wrong@").replace(":5432", ":1")
        with pytest.raises(IndexStoreError, match=r"cannot use PostgreSQL index .*\*\*\*"):
            hindex.open(bad)


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"{PG_ENV} is not set")
def test_postgres_sql_and_memory_search_agree() -> None:
    schema = f"hnn_test_{uuid.uuid4().hex[:12]}"
    try:
        recs = fake(500, bits=128, seed=3)
        with (
            hindex.open(_pg_url(schema)) as sql,
            hindex.open(_pg_url(schema), search="memory") as mem,
        ):
            sql.add(recs, fingerprint=FP_A)
            for q in recs[:20:4]:
                for k, r in [(10, None), (None, 50), (5, 52)]:
                    a = [(m.distance, m.record.id) for m in sql.search(q, k=k, radius=r)]
                    b = [(m.distance, m.record.id) for m in mem.search(q, k=k, radius=r)]
                    assert a == b and a
    finally:
        _drop_schema(schema)


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
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip


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


# -- CLI with a real checkpoint -----------------------------------------------------------------------
def _stats(capsys, db) -> dict:
    rc, out, _ = run_cli(capsys, "stats", "--db", db, "--json")
    assert rc == 0
    return json.loads(out)


def test_cli_add_search_check_list_remove(tiny_checkpoint, tiny_onnx_models, tmp_path, capsys):
    db = tmp_path / "hashes.db"
    models = [str(p) for p in tiny_onnx_models]
    rc, out, err = run_cli(capsys, "add", "--db", db, "--checkpoint", tiny_checkpoint, *models[:4],
                           "--label", "zoo", "--meta", "source=test", "--json")  # fmt: skip
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
    rc, out, err = run_cli(capsys, "search", "--db", db, models[2], f"hex:{recs[1]['code']}", "-k", "3", "--json")  # fmt: skip
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


def test_cli_unparsable_model_leaves_index_untouched(
    tiny_checkpoint, tiny_onnx_models, tmp_path, capsys
):
    db = tmp_path / "hashes.db"
    assert (
        run_cli(capsys, "add", "--db", db, "--checkpoint", tiny_checkpoint, tiny_onnx_models[0])[0]
        == 0
    )
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07this is not a protobuf" + os.urandom(64))
    before = file_digest(db)
    for cmd in (["check"], ["search"], ["add"]):
        rc, out, err = run_cli(capsys, *cmd, "--db", db, str(bad), *([str(tiny_onnx_models[1])] if cmd == ["add"] else []))  # fmt: skip
        assert rc == 2, (cmd, out, err)
        last = err.strip().splitlines()[-1]  # a progress bar may come before it
        assert last.startswith("hnn: error:") and "broken.onnx" in last and "Traceback" not in err
    assert file_digest(db) == before and _stats(capsys, db)["records"] == 1


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


def test_benchmark_runs(tmp_path):
    out = tmp_path / "bench.md"
    r = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_index.py"), "--sizes", "2000",
         "--bits", "64", "128", "--queries", "3", "--baseline-queries", "2", "--store-size",
         "500", "--out", str(out)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert (
        text.startswith("# Hash index search benchmark") and "bench_index.py --sizes 2000" in text
    )
    assert "returned the same top-k distances as the numpy scan in" in text


def test_example_indexes_and_checks(tiny_checkpoint, tiny_onnx_models, tmp_path):
    models = [str(p) for p in tiny_onnx_models]
    r = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "index_zoo.py"), "--checkpoint", str(tiny_checkpoint),
         "--db", str(tmp_path / "zoo.db"), "--models", *models[:-1], "--holdout", models[-1]],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert r.returncode in (0, 1), r.stderr
    assert "indexed 5 models" in r.stdout and "held-out" in r.stdout
