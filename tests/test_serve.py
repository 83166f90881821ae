"""``hnn serve`` end to end: a real uvicorn server in a subprocess, a real httpx client, a real
checkpoint and real ONNX files. The verdict of /v1/check is the object of ``hnn index check
--json``; bad uploads get a 4xx with a one-line detail; jobs, metrics, the token and the
set-ups the command refuses."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
from support.index import run_cli
from support.serve import one_line, serving

pytest_plugins = ["support.index"]


@pytest.fixture(scope="module")
def site(tmp_path_factory, tiny_checkpoint, tiny_onnx_models):
    """A SQLite index holding the first three tiny models, a storage root holding all six,
    and a server over them (1 MB direct uploads, archives of 1 MB unpacked at most)."""
    root = tmp_path_factory.mktemp("serve")
    store = root / "store"
    store.mkdir()
    for p in tiny_onnx_models:
        shutil.copy(p, store / p.name)
    db = root / "index.db"
    from hnnframe.cli import main

    assert (
        main(
            [
                "index",
                "add",
                "--db",
                str(db),
                "--checkpoint",
                str(tiny_checkpoint),
                *[str(store / p.name) for p in tiny_onnx_models[:3]],
            ]
        )
        == 0
    )
    with serving(
        "--db",
        db,
        "--data-dir",
        root / "data",
        "--storage-root",
        store,
        "--sync-upload-mb",
        1,
        "--max-unpacked-mb",
        1,
    ) as server:
        yield {"server": server, "db": db, "store": store, "root": root}


def _upload(path: Path, **fields) -> dict:
    return {"files": {"file": (path.name, path.read_bytes())}, "data": fields}


def test_check_answers_like_the_cli(site, capsys):
    c, store = site["server"].client, site["store"]
    r = c.post("/v1/check", **_upload(store / "resnet_d1.onnx"))
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["upload"] == "resnet_d1.onnx" and v["tier"] == "exact file" and v["suspect"]
    rc, out, err = run_cli(capsys, "check", "--db", site["db"], store / "resnet_d1.onnx", "--json")
    assert rc == 1, err
    [cli] = json.loads(out)
    assert {**cli, "upload": None} == {**v, "upload": None}
    # the same by storage path, with the page's operator comparison
    r = c.post("/v1/check", json={"path": "mlp_3.onnx", "explain": True, "fail_on": "none"})
    v = r.json()
    assert r.status_code == 200 and v["upload"] == "mlp_3.onnx" and v["suspect"] is False
    ops = v["explain"]["upload_ops"]
    assert ops["Gemm"] >= 3 and v["explain"]["candidates"]
    first = v["explain"]["candidates"][0]
    assert first["ops"] and first["diff"] == {
        k: ops.get(k, 0) - first["ops"].get(k, 0)
        for k in sorted(set(ops) | set(first["ops"]))
        if ops.get(k, 0) != first["ops"].get(k, 0)
    }


def test_models_add_get_delete_and_search(site):
    c, store = site["server"].client, site["store"]
    r = c.post("/v1/models", **_upload(store / "mlp_2.onnx", label="zoo", meta='{"lic": "mit"}'))
    assert r.status_code == 201, r.text
    rec = r.json()["record"]
    assert rec["label"] == "zoo" and rec["meta"] == {"lic": "mit"} and Path(rec["path"]).is_file()
    again = c.post("/v1/models", **_upload(store / "mlp_2.onnx"))
    assert again.status_code == 409 and again.json()["record"]["id"] == rec["id"]
    assert "already indexed as #" in one_line(again)
    # by storage path: the record keeps the stored file's path
    r = c.post("/v1/models", json={"path": "resnet_d3.onnx", "label": "store"})
    assert r.status_code == 201 and r.json()["record"]["path"] == str(store / "resnet_d3.onnx")
    assert c.get(f"/v1/models/{rec['id']}").json() == rec
    # search: by stored id, by code, by upload; the record finds itself at distance 0
    by_id = c.post("/v1/search", json={"id": rec["id"], "k": 2}).json()
    assert by_id["query"]["id"] == rec["id"] and by_id["matches"][0]["distance"] == 0
    assert len(by_id["matches"]) == 2
    assert [r["id"] for r in by_id["same_architecture"]] == [rec["id"]]
    assert {m["id"]: m["same_architecture"] for m in by_id["matches"]}.get(rec["id"], True)
    by_code = c.post("/v1/search", json={"code": rec["code"], "k": 2}).json()
    assert [(m["id"], m["distance"]) for m in by_code["matches"]] == [
        (m["id"], m["distance"]) for m in by_id["matches"]
    ]
    assert by_code["same_architecture"] == []
    assert not any(m["same_architecture"] for m in by_code["matches"])
    by_file = c.post("/v1/search", **_upload(store / "mlp_2.onnx", k="1")).json()
    assert by_file["query"]["code"] == rec["code"] and len(by_file["matches"]) == 1
    assert [r["id"] for r in by_file["same_architecture"]] == [rec["id"]]
    stats = c.get("/v1/stats").json()
    assert stats["records"] == 5 and stats["labels"]["zoo"] == 1
    assert c.delete(f"/v1/models/{rec['id']}").json() == {"removed": [rec["id"]]}
    assert not Path(rec["path"]).exists()  # the upload this server kept goes with it
    assert c.get(f"/v1/models/{rec['id']}").status_code == 404
    assert c.delete(f"/v1/models/{rec['id']}").status_code == 404
    assert c.post("/v1/search", json={"id": rec["id"]}).status_code == 404


def _tar(files: dict[str, bytes], symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        if symlink:
            info = tarfile.TarInfo("repo/link.onnx")
            info.type, info.linkname = tarfile.SYMTYPE, symlink
            t.addfile(info)
    return buf.getvalue()


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_repository_archives(site):
    c, store = site["server"].client, site["store"]
    onnx = (store / "convnet.onnx").read_bytes()
    r = c.post(
        "/v1/check",
        files={"file": ("repo.tar.gz", _tar({"repo/README.md": b"hi", "repo/model.onnx": onnx}))},
    )
    assert r.status_code == 200 and r.json()["tier"] == "exact file", r.text
    r = c.post("/v1/check", files={"file": ("repo.zip", _zip({"m/model.onnx": onnx}))})
    assert r.status_code == 200 and r.json()["tier"] == "exact file"


@pytest.mark.parametrize(
    ("name", "body", "status", "words"),
    [
        ("junk.onnx", os.urandom(3000), 422, "junk.onnx"),
        ("evil.tar.gz", _tar({"../evil.onnx": b"x"}), 400, "outside the archive"),
        ("abs.zip", _zip({"/etc/evil.onnx": b"x"}), 400, "outside the archive"),
        ("link.tar.gz", _tar({"repo/a.txt": b"x"}, symlink="/etc/passwd"), 400, "not a plain file"),
        ("two.zip", _zip({"a.onnx": b"x", "b.onnx": b"y"}), 422, "2 model files"),
        ("none.zip", _zip({"README": b"x"}), 422, "no model file"),
        ("bomb.zip", _zip({"m.onnx": b"\0" * (2 << 20)}), 413, "unpacked archive"),
        ("big.onnx", b"\0" * (1 << 20) + b"\0" * 4096, 413, "/v1/jobs"),
    ],
)
def test_bad_uploads_get_one_line_4xx(site, name, body, status, words):
    r = site["server"].client.post("/v1/check", files={"file": (name, body)})
    assert r.status_code == status, r.text
    detail = one_line(r)
    assert words in detail and str(site["root"]) not in detail
    assert not list((site["root"] / "data" / "uploads").glob("*/*"))  # nothing left behind


def test_a_streamed_body_is_cut_at_the_limit(site):
    """A body sent in chunks, with no Content-Length, is counted as it arrives and refused
    once it passes the limit (1 MB here), before all of it has come."""
    sent = []

    def body():
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.onnx"\r\n\r\n'
        for _ in range(64):  # 4 MB in all, if the server read it to the end
            sent.append(1)
            yield b"\0" * (64 << 10)
        yield b"\r\n--b--\r\n"

    r = site["server"].client.post(
        "/v1/check", content=body(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert r.status_code == 413 and "larger than the limit" in one_line(r)
    assert not list((site["root"] / "data" / "uploads").glob("*/*"))


def test_bad_requests_get_one_line_4xx(site):
    c = site["server"].client
    cases = [
        (c.post("/v1/check", data={"label": "x"}, files={"other": ("a", b"x")}), 400),
        (c.post("/v1/check", json={"path": "../../../etc/passwd"}), 403),
        (c.post("/v1/check", json={"path": "missing.onnx"}), 404),
        (c.post("/v1/check", json={"nothing": 1}), 400),
        (c.post("/v1/check", content=b"{bad", headers={"content-type": "application/json"}), 400),
        (c.post("/v1/check", content=b"x", headers={"content-type": "text/plain"}), 415),
        (c.post("/v1/check", json={"path": "mlp_2.onnx", "fail_on": "bogus"}), 400),
        (c.post("/v1/check", json={"path": "mlp_2.onnx", "radius": "far"}), 400),
        (c.post("/v1/models", json={"path": "mlp_2.onnx", "meta": [1]}), 400),
        (c.post("/v1/search", json={}), 400),
        (c.post("/v1/search", json={"id": 1, "k": -1}), 422),
        (c.post("/v1/search", json={"code": "zz"}), 422),
        (c.get("/v1/models/abc"), 422),
        (c.get("/v1/jobs/nope"), 404),
        (c.get("/nowhere"), 404),
    ]
    for r, status in cases:
        assert r.status_code == status, (r.request.url, r.text)
        one_line(r)


def test_jobs_take_large_uploads(site):
    c, store = site["server"].client, site["store"]
    # larger than the 1 MB direct limit: the model with 1.5 MB of padding in its doc string
    import onnx

    m = onnx.load(str(store / "resnet_d2.onnx"), load_external_data=False)
    m.doc_string = "x" * (3 << 19)
    big = site["root"] / "big_resnet.onnx"
    onnx.save(m, str(big))
    assert c.post("/v1/check", **_upload(big)).status_code == 413
    r = c.post("/v1/jobs", **_upload(big, action="add", label="big"))
    assert r.status_code == 202, r.text
    job = r.json()
    for _ in range(300):
        job = c.get(f"/v1/jobs/{job['id']}").json()
        if job["state"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert job["state"] == "done" and job["status_code"] == 201, job
    assert job["result"]["record"]["label"] == "big"
    r = c.post("/v1/jobs", **_upload(big, action="check"))
    for _ in range(300):
        job = c.get(f"/v1/jobs/{r.json()['id']}").json()
        if job["state"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert job["result"]["tier"] == "exact file"
    bad = c.post("/v1/jobs", **_upload(big, action="explode"))
    assert bad.status_code == 400 and "action" in one_line(bad)


def test_metrics_and_openapi(site):
    c, store = site["server"].client, site["store"]
    c.post("/v1/check", **_upload(store / "convnet.onnx"))
    text = c.get("/metrics").text
    assert 'hnn_requests_total{method="POST",route="/v1/check",status="200"}' in text
    assert 'hnn_verdicts_total{suspect="true",tier="exact file"}' in text
    assert 'hnn_request_seconds_bucket{route="/v1/check",le="+Inf"}' in text
    doc = c.get("/openapi.json").json()
    assert {
        "/v1/check",
        "/v1/models",
        "/v1/models/{record_id}",
        "/v1/search",
        "/v1/stats",
        "/v1/jobs",
        "/v1/jobs/{job_id}",
        "/healthz",
        "/metrics",
    } <= set(doc["paths"])
    body = doc["paths"]["/v1/check"]["post"]["requestBody"]["content"]
    assert body["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"
    assert "Verdict" in doc["components"]["schemas"]
    assert "409" in doc["paths"]["/v1/models"]["post"]["responses"]


def test_token(tmp_path, site):
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    with serving(
        "--db", site["db"], "--data-dir", tmp_path / "data", "--token-file", token, token="s3cret"
    ) as s:
        assert s.client.get("/v1/stats").status_code == 200
        import httpx

        bare = httpx.get(f"{s.url}/v1/stats")
        assert bare.status_code == 401 and "bearer token" in one_line(bare)
        wrong = httpx.get(f"{s.url}/v1/stats", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert httpx.get(f"{s.url}/healthz").status_code == 200
        assert "<form" in httpx.get(f"{s.url}/").text


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--host", "0.0.0.0"], "without a token"),
        (["--workers", "2"], "SQLite index serves one writer"),
        (["--max-upload-mb", "0"], "--max-upload-mb must be at least 1"),
    ],
)
def test_serve_refuses_unsafe_setups(site, capsys, argv, words):
    from hnnframe.cli import main

    env = os.environ.pop("HNN_SERVE_TOKEN", None)
    try:
        rc = main(["serve", "--db", str(site["db"]), *argv])
    finally:
        if env is not None:
            os.environ["HNN_SERVE_TOKEN"] = env
    err = capsys.readouterr().err
    assert rc == 2 and words in err and err.count("\n") == 1, err


@pytest.mark.postgres
def test_two_workers_on_postgres_add_once(pg_schema, tiny_checkpoint, tiny_onnx_models, tmp_path):
    """Two workers share a PostgreSQL index: the same model added by 8 requests at once is
    added once (201), the others answer 409 with that record, and both workers answered."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    with serving(
        "--db",
        pg_schema,
        "--checkpoint",
        tiny_checkpoint,
        "--workers",
        2,
        "--data-dir",
        tmp_path / "data",
    ) as s:
        body = tiny_onnx_models[4].read_bytes()

        def add(_: int) -> httpx.Response:
            with httpx.Client(base_url=s.url, timeout=60) as c:
                return c.post("/v1/models", files={"file": ("mlp.onnx", body)})

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(add, range(24)))
        codes = sorted(r.status_code for r in answers)
        assert codes == [201] + [409] * 23, [r.text for r in answers if r.status_code >= 500]
        ids = {r.json()["record"]["id"] for r in answers}
        assert len(ids) == 1 and s.client.get("/v1/stats").json()["records"] == 1
        assert len({r.headers["x-hnn-worker"] for r in answers}) == 2


def test_read_bounds_apply_to_every_request(site, tmp_path):
    """``hnn serve --max-seconds`` (one of the bounds of ``hnn index check``) holds for
    uploads: a model over it is a 413 naming the bound; the server goes on answering."""
    args = ("--db", site["db"], "--data-dir", tmp_path / "data", "--max-seconds", "0.0001")
    with serving(*args) as s:
        model = site["store"] / "resnet_d3.onnx"
        r = s.client.post("/v1/check", **_upload(model))
        assert r.status_code == 413 and "--max-seconds" in one_line(r), r.text
        r = s.client.post("/v1/models", **_upload(site["store"] / "mlp_3.onnx"))
        assert r.status_code in (413, 422) and "--max-seconds" in one_line(r), r.text
        assert s.client.get("/healthz").status_code == 200


def test_weight_tier_through_the_service(weight_bed, tiny_checkpoint, tmp_path):
    """Models with weights: the add stores the weight record, and a check of a re-saved copy
    (other bytes, same tensors) and of an fp16 copy answers on the weight tiers with the code
    distance, the threshold and the share of identical tensors, as the CLI would."""
    with serving(
        "--db", tmp_path / "w.db", "--checkpoint", tiny_checkpoint, "--data-dir", tmp_path / "data"
    ) as s:
        r = s.client.post("/v1/models", **_upload(weight_bed["exact_onnx"]))
        assert r.status_code == 201 and r.json()["record"]["weights"]["tensors"] > 0, r.text
        v = s.client.post("/v1/check", **_upload(weight_bed["resaved"])).json()
        assert v["tier"] == "exact tensors" and v["suspect"], v
        w = v["candidates"][0]["weights"]
        assert w["compared"] and w["distance"] == 0 and w["shared"] == pytest.approx(1.0)
        v = s.client.post("/v1/check", **_upload(weight_bed["fp16"])).json()
        w = v["candidates"][0]["weights"]
        assert v["tier"] == "weight match" and w["distance"] <= w["threshold"], v
        v = s.client.post("/v1/check", **_upload(weight_bed["seed1_onnx"])).json()
        assert not v["suspect"] and v["tier"] == "same architecture", v  # other weights


def test_a_job_whose_worker_died_is_reported_failed(tmp_path):
    """Jobs live on disk: any worker answers for any job, and one left running by a worker
    that died (its process gone) reads as failed, not running for ever."""
    import subprocess
    import sys

    from hnnframe.files import atomic_write
    from hnnframe.serve.jobs import Jobs

    jobs = Jobs(tmp_path / "jobs")
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    job = {
        "id": "abc123",
        "action": "add",
        "upload": "m.onnx",
        "state": "running",
        "stage": "hashing and reading weights",
        "pid": int(done.stdout),
        "status_code": None,
        "result": None,
        "detail": None,
    }
    atomic_write(tmp_path / "jobs" / "abc123.json", json.dumps(job).encode())
    got = jobs.get("abc123")
    assert got["state"] == "failed" and got["status_code"] == 503 and "worker" in got["detail"]
    assert jobs.get("../abc123") is None and jobs.get("nope") is None
    # a job run here: queued, then done with the answer its work gave
    ran = jobs.submit("check", "m.onnx", lambda: (200, {"tier": "none"}), lambda: None)
    for _ in range(100):
        if jobs.get(ran["id"])["state"] == "done":
            break
        time.sleep(0.02)
    assert jobs.get(ran["id"])["result"] == {"tier": "none"}
    jobs.close()
