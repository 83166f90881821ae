"""The load and SIGKILL parts of benchmarks/bench_serve.py: 2 workers of a real ``hnn
serve`` on PostgreSQL, real httpx clients in threads, real files."""

from __future__ import annotations

import io
import os
import random
import signal
import statistics
import subprocess
import sys
import tarfile
import threading
import time
import uuid
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _schema(url: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema=bench_{uuid.uuid4().hex[:10]}"


def _tar(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _bad_requests(n: int) -> list[dict[str, Any]]:
    """``n`` bad uploads of eight kinds, each a 4xx by design."""
    two = io.BytesIO()
    with zipfile.ZipFile(two, "w") as z:
        z.writestr("a.onnx", b"x")
        z.writestr("b.onnx", b"y")
    kinds = [
        {"files": {"file": ("junk.onnx", os.urandom(4000))}},
        {"files": {"file": ("evil.tar.gz", _tar("../../evil.onnx", b"x"))}},
        {"files": {"file": ("two.zip", two.getvalue())}},
        {"files": {"file": ("huge.onnx", b"\0" * ((1 << 20) + 10))}},
        {"json": {"path": "../../../etc/passwd"}},
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        {"files": {"other": ("a.onnx", b"x")}},
        {"json": {"path": "mlp_2.onnx", "fail_on": "bogus"}},
    ]
    return [{"kind": "bad upload", "url": "/v1/check", **kinds[i % len(kinds)]} for i in range(n)]


def _plan(
    models: list[Path], adds: list[Path], dups: int, n: int, rng: random.Random
) -> list[dict]:
    n_add = len(adds) + dups
    n_bad = n // 5
    n_search = n // 5
    n_check = n - n_add - n_bad - n_search
    reqs: list[dict[str, Any]] = []
    for f in adds + adds[:dups]:
        reqs.append(
            {
                "kind": "add",
                "url": "/v1/models",
                "file": f,
                "files": {"file": (f.name, f.read_bytes())},
                "data": {"label": "load"},
            }
        )
    for i in range(n_check):
        m = models[i % len(models)]
        if i % 2:
            reqs.append({"kind": "check", "url": "/v1/check", "json": {"path": m.name}})
        else:
            reqs.append(
                {"kind": "check", "url": "/v1/check", "files": {"file": (m.name, m.read_bytes())}}
            )
    for i in range(n_search):
        q = {"id": 1 + i % len(models), "k": 5} if i % 2 else {"code": None, "k": 5}
        reqs.append({"kind": "search", "url": "/v1/search", "json": q})
    reqs += _bad_requests(n_bad)
    rng.shuffle(reqs)
    return reqs


def _send(client: httpx.Client, r: dict[str, Any]) -> httpx.Response:
    kw = {k: r[k] for k in ("files", "data", "json", "content", "headers") if k in r}
    return client.post(r["url"], **kw)


def load_test(work: Path, ckpt: Path, models: list[Path], url: str, n: int, clients: int) -> dict:
    from support.index import distinct_copies
    from support.serve import serving

    from hnnframe.files import model_sha256

    db = _schema(url)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "hnnframe.cli",
            "index",
            "add",
            "--db",
            db,
            "--checkpoint",
            str(ckpt),
            *map(str, models),
        ],
        env=ENV,
        check=True,
        capture_output=True,
    )
    adds = distinct_copies(models, n // 5, work / "load-adds")
    reqs = _plan(models, adds, n // 20, n, random.Random(0))
    local = threading.local()
    with serving(
        "--db",
        db,
        "--workers",
        2,
        "--data-dir",
        work / "load-data",
        "--storage-root",
        models[0].parent,
        "--sync-upload-mb",
        1,
    ) as s:
        code = s.client.get("/v1/models/1").json()["code"]
        for r in reqs:
            if r.get("json", {}).get("code", 0) is None:
                r["json"]["code"] = code

        def go(r: dict[str, Any]) -> dict[str, Any]:
            if not hasattr(local, "c"):
                local.c = httpx.Client(base_url=s.url, timeout=120)
            t0 = time.perf_counter()
            try:
                a = _send(local.c, r)
                status, worker, body = a.status_code, a.headers.get("x-hnn-worker"), a.json()
            except httpx.TransportError as e:
                status, worker, body = 0, None, {"detail": str(e)}
            return {
                **r,
                "status": status,
                "seconds": time.perf_counter() - t0,
                "worker": worker,
                "body": body,
            }

        load = os.getloadavg()
        with ThreadPoolExecutor(clients) as pool:
            done = list(pool.map(go, reqs))
    kinds: dict[str, Any] = {}
    for kind in sorted({d["kind"] for d in done}):
        rows = [d for d in done if d["kind"] == kind]
        lat = sorted(d["seconds"] for d in rows)
        kinds[kind] = {
            "n": len(rows),
            "statuses": dict(Counter(str(d["status"]) for d in rows)),
            "p50": statistics.median(lat),
            "p95": lat[int(0.95 * (len(lat) - 1))],
        }
    import hnnframe.index as hindex

    with hindex.open(db, create=False) as idx:
        shas = Counter(r.sha256 for r in idx.list())
    add_rows = [d for d in done if d["kind"] == "add"]
    files = {d["file"]: model_sha256(d["file"]) for d in add_rows}
    created = Counter(d["file"] for d in add_rows if d["status"] == 201)
    bad = [d for d in done if d["kind"] == "bad upload"]
    return {
        "clients": clients,
        "requests": len(done),
        "loadavg": " ".join(f"{x:.2f}" for x in load),
        "latency": [d["seconds"] for d in done],
        "kinds": kinds,
        "server_errors": sum(d["status"] >= 500 or d["status"] == 0 for d in done),
        "add_files": len(files),
        "dup_sends": len(add_rows) - len(files),
        "added": sum(created.values()),
        "exists": sum(d["status"] == 409 for d in add_rows),
        "in_index": sum(shas[s] > 0 for s in files.values()),
        "lost": sum(shas[s] == 0 for s in files.values()),
        "duplicated": sum(max(0, shas[s] - 1) for s in files.values())
        + sum(max(0, k - 1) for k in created.values()),
        "bad": len(bad),
        "bad_4xx": sum(400 <= d["status"] < 500 for d in bad),
        "bad_statuses": dict(Counter(str(d["status"]) for d in bad)),
        "workers": len({d["worker"] for d in done if d["worker"]}),
    }


def weight_models(out: Path, n: int) -> list[Path]:
    """``n`` ONNX MLPs with their weights (about 5 MB each), each trained to nothing: its
    own random initialisation, so each file and tensor set is distinct."""
    import torch
    from torch import nn

    from hnnframe.weights.copies import export_onnx

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        torch.manual_seed(i)
        m = nn.Sequential(
            nn.Flatten(),
            nn.Linear(192, 1024),
            nn.ReLU(),
            nn.Linear(1024, 1024),
            nn.ReLU(),
            nn.Linear(1024, 10),
        )
        p = out / f"mlp_w{i:03d}.onnx"
        export_onnx(m, torch.zeros(1, 3, 8, 8), p, fold=True)
        paths.append(p)
    return paths


def kill_test(work: Path, ckpt: Path, url: str, n_files: int, clients: int = 4) -> dict:
    from support.serve import serving

    import hnnframe.index as hindex
    from hnnframe.files import model_sha256

    files = weight_models(work / "kill-models", n_files)
    db = _schema(url)
    queue = list(files)
    lock = threading.Lock()
    log: list[dict[str, Any]] = []
    state = {"started": 0, "finished": 0, "broken": 0}
    with serving(
        "--db", db, "--checkpoint", ckpt, "--workers", 2, "--data-dir", work / "kill-data"
    ) as s:

        def client() -> None:
            with httpx.Client(base_url=s.url, timeout=120) as c:
                while True:
                    with lock:
                        if not queue:
                            return
                        f = queue.pop(0)
                    for _attempt in range(10):
                        with lock:
                            state["started"] += 1
                        try:
                            a = c.post("/v1/models", files={"file": (f.name, f.read_bytes())})
                            row = {
                                "file": f,
                                "status": a.status_code,
                                "t": time.time(),
                                "worker": a.headers.get("x-hnn-worker"),
                            }
                        except httpx.TransportError:
                            row = {"file": f, "status": 0, "t": time.time(), "worker": None}
                        with lock:
                            state["finished"] += 1
                            log.append(row)
                            state["broken"] += row["status"] == 0
                        if row["status"] != 0 and row["status"] < 500:
                            break
                        time.sleep(0.3)  # retry: the add is idempotent (sha256)

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for t in threads:
            t.start()
        while True:
            with lock:
                ok = [r for r in log if r["worker"]]
                if len(ok) >= 3:
                    victim = int(ok[-1]["worker"])
                    before, in_flight = len(ok), state["started"] - state["finished"]
                    break
            time.sleep(0.01)
        os.kill(victim, signal.SIGKILL)
        t_kill = time.time()
        health: list[bool] = []
        pids: set[str] = set()
        restarted = None

        def probe() -> None:
            nonlocal restarted
            try:
                a = httpx.get(f"{s.url}/healthz", timeout=5)
                health.append(a.status_code == 200)
                pid = a.headers.get("x-hnn-worker")
                if pid and int(pid) != victim and pid not in seen_before and restarted is None:
                    restarted = time.time() - t_kill
                pids.add(pid or "")
            except httpx.TransportError:
                health.append(False)

        with lock:
            seen_before = {r["worker"] for r in log if r["worker"]}
        while time.time() - t_kill < 5:
            probe()
            time.sleep(0.1)
        for t in threads:
            t.join()
        while restarted is None and time.time() - t_kill < 60:  # uvicorn starts a new worker
            with httpx.Client(base_url=s.url) as fresh:  # a new connection may reach it
                try:
                    a = fresh.get("/healthz", timeout=5)
                    pid = a.headers.get("x-hnn-worker")
                    if pid and int(pid) != victim and pid not in seen_before:
                        restarted = time.time() - t_kill
                except httpx.TransportError:
                    pass
            time.sleep(0.2)
    with hindex.open(db, create=False) as idx:
        recs = idx.list()
        problems = idx.verify()
    shas = Counter(r.sha256 for r in recs)
    after = [r for r in log if r["t"] > t_kill]
    with_w = sum(r.weights is not None for r in recs)
    return {
        "clients": clients,
        "files": len(files),
        "mb": files[0].stat().st_size / 1e6,
        "killed": victim,
        "before": before,
        "in_flight": in_flight,
        "broken": state["broken"],
        "answered_after": sum(r["status"] > 0 for r in after),
        "errors_after": sum(r["status"] >= 500 for r in after),
        "health_ok": sum(health),
        "health_total": len(health),
        "health_window": 5.0,
        "restarted_after": restarted,
        "records": len(recs),
        "with_weights": with_w,
        "verify": "; ".join(problems),
        "partial": len(recs) - with_w + len(problems),
        "lost": sum(shas[model_sha256(f)] == 0 for f in files),
    }
