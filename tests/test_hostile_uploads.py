"""Named regressions of the hostile-uploads issue that the fuzz suite (test_fuzz_uploads.py)
does not cover: evasion by missing tensors, digests of files outside the upload, the one-line
errors, the limit options, exit statuses and a read-only index."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from support.hostile_files import SECRET, safetensors_bytes
from support.index import ROOT

import hnnframe.index as hindex
from hnnframe.cli import main as hnn
from hnnframe.errors import IndexStoreError, LimitError, ModelLoadError
from hnnframe.files import model_sha256
from hnnframe.weights.readers import detect_format, iter_tensors


def _deep_mlp(seed: int, layers: int = 10, half: bool = False) -> onnx.ModelProto:
    """A 10-layer MLP (20 weight tensors) with its weights inline."""
    rng = np.random.default_rng(seed)
    nodes, inits, x = [], [], "x"
    for i in range(layers):
        w = rng.standard_normal((16, 16)).astype(np.float16 if half else np.float32)
        b = rng.standard_normal(16).astype(np.float16 if half else np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes += [
            helper.make_node("MatMul", [x, f"w{i}"], [f"m{i}"]),
            helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"]),
            helper.make_node("Relu", [f"a{i}"], [f"r{i}"]),
        ]
        x = f"r{i}"
    kind = TensorProto.FLOAT16 if half else TensorProto.FLOAT
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", kind, [1, 16])],
        [helper.make_tensor_value_info(x, kind, [1, 16])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _without(model: onnx.ModelProto, folder: Path, drop: set[str]) -> Path:
    """``model`` saved with each tensor in its own data file, the files of ``drop`` deleted."""
    folder.mkdir(parents=True)
    path = folder / "model.onnx"
    onnx.save(
        model,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=False,
        size_threshold=0,
    )
    for t in onnx.load(str(path), load_external_data=False).graph.initializer:
        if t.name in drop:
            loc = {e.key: e.value for e in t.external_data}["location"]
            (folder / loc).unlink()
    return path


def test_removing_tensors_does_not_hide_a_copy(tiny_checkpoint, tmp_path: Path) -> None:
    """A copy with any one tensor removed, or any 10% of them, is still SUSPECT; so is a
    near copy (fp16) with tensors removed. The verdict says how many were missing."""
    from hnnframe.hashing import Hasher

    hasher = Hasher.from_checkpoint(tiny_checkpoint)
    protected = tmp_path / "protected.onnx"
    onnx.save(_deep_mlp(0), str(protected))
    names = [t.name for t in _deep_mlp(0).graph.initializer]
    rng = random.Random(0)
    drops = [{n} for n in names] + [set(rng.sample(names, 2)) for _ in range(5)]
    uploads = [_without(_deep_mlp(0), tmp_path / f"exact{i}", d) for i, d in enumerate(drops)]
    uploads += [
        _without(_deep_mlp(0, half=True), tmp_path / f"half{i}", d)
        for i, d in enumerate(drops[::4])
    ]
    with hindex.open(tmp_path / "index.db") as idx:
        idx.add_models([protected], hasher, checkpoint=str(tiny_checkpoint))
        for up, (_, v) in zip(uploads, idx.check_models(uploads, hasher), strict=True):
            assert v.fails("auto"), (up, v.tier)
            assert v.weights["missing"] in (1, 2) and v.partial
            if "exact" in up.parent.name:
                assert v.tier == "exact tensors", (up, v.tier)


def test_digest_never_reads_outside_the_upload(tmp_path: Path) -> None:
    """files.model_sha256 marks an outside location without opening it: the digest does not
    change with the outside file's content (it did when the file was hashed)."""
    secret = tmp_path / "secret"
    secret.write_bytes(SECRET)
    up = tmp_path / "up"
    up.mkdir()
    (up / "link.bin").symlink_to(secret)
    m = _deep_mlp(0, layers=1)
    for t, where in zip(m.graph.initializer, [str(secret), "link.bin"], strict=True):
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        t.external_data.add(key="location", value=where)
    onnx.save(m, str(up / "model.onnx"))
    before = model_sha256(up / "model.onnx")
    secret.write_bytes(b"changed")
    assert model_sha256(up / "model.onnx") == before


def test_one_line_errors_name_the_file(tmp_path: Path) -> None:
    header = {"w": {"dtype": "F32", "shape": [4], "data_offsets": [-16, 0]}}
    st = tmp_path / "neg.safetensors"
    st.write_bytes(safetensors_bytes(header, b"\0" * 16))
    with pytest.raises(
        ModelLoadError, match=r"^.*neg\.safetensors: tensor 'w' has bad data offsets"
    ):
        list(iter_tensors(st))
    (tmp_path / "a_dir").mkdir()
    (tmp_path / "loop").symlink_to("loop")
    os.mkfifo(tmp_path / "fifo")
    for name, why in (
        ("a_dir", "a directory"),
        ("loop", "symbolic link loop"),
        ("fifo", "not a regular file (a FIFO)"),
        ("none", "no such file"),
    ):
        with pytest.raises(ModelLoadError, match=re.escape(why)) as e:
            detect_format(tmp_path / name)
        assert str(e.value).startswith(str(tmp_path / name)) and "\n" not in str(e.value)


def test_limit_options_and_exit_statuses(tmp_path: Path, capsys) -> None:
    p = tmp_path / "m.onnx"
    onnx.save(_deep_mlp(0, layers=2), str(p))
    assert hnn(["weights", "fingerprint", "--max-tensor", "100", str(p)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "over the limit 100 (--max-tensor raises it)" in err
    assert hnn(["graph", "--max-nodes", "3", str(p)]) == 2  # one model: its error is the command's
    assert "--max-nodes" in capsys.readouterr().err
    assert hnn(["weights", "fingerprint", "--max-tensor", "1000", str(p)]) == 0
    with pytest.raises(LimitError, match="--max-seconds"):
        from hnnframe import limits
        from hnnframe.weights.fingerprint import fingerprint

        with limits.applied(limits.Limits(max_seconds=1e-9)), limits.deadline(p):
            fingerprint(p, 64)


def test_a_bug_exits_70_in_one_line(monkeypatch, capsys) -> None:
    """An exception that is no user error is reported as internal, never with status 1."""
    import hnnframe.commands.index as index_cmd

    def boom(args):
        raise ValueError("a bug\nwith two lines")

    monkeypatch.setattr(index_cmd, "cmd_stats", boom)
    monkeypatch.delenv("HNN_DEBUG", raising=False)
    assert hnn(["index", "stats", "--db", "x.db"]) == 70
    err = capsys.readouterr().err
    assert err.startswith("hnn: internal error: ValueError: a bug") and err.count("\n") == 1


def test_postgres_errors_are_one_line() -> None:
    with pytest.raises(IndexStoreError) as e:
        hindex.open("postgresql://nobody:x@127.0.0.1:9/none?connect_timeout=2")
    assert "\n" not in str(e.value)


def test_a_read_only_index_still_answers(tmp_path: Path) -> None:
    """An index whose folder is not writable: stats, list and search work, a write says why."""
    if os.geteuid() != 0 and shutil.which("setpriv") is None:
        pytest.skip("needs root with setpriv to run as another user (root ignores modes)")
    from support.index import fake

    folder = Path(f"/tmp/hnn-ro-{os.getpid()}")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o755)
    try:
        db = folder / "index.db"
        with hindex.open(db) as idx:
            idx.add(fake(3, bits=64), fingerprint="f" * 64, checkpoint="m.pt")
        db.chmod(0o444)
        folder.chmod(0o555)
        drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        probe = subprocess.run(
            [*drop, sys.executable, "-c", "import hnnframe"],
            cwd="/",
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
        )
        if os.geteuid() == 0 and probe.returncode != 0:
            pytest.skip("the checkout is not readable by user nobody")

        def as_other(*argv: str) -> subprocess.CompletedProcess:
            pre = drop if os.geteuid() == 0 else []
            return subprocess.run(
                [*pre, sys.executable, "-m", "hnnframe.cli", *argv],
                cwd="/",
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                capture_output=True,
                text=True,
            )

        for argv in (["stats"], ["list"], ["search", "hex:" + "00" * 8, "-k", "1"]):
            r = as_other("index", argv[0], "--db", str(db), "--json", *argv[1:])
            assert r.returncode == 0, (argv, r.stderr)
        assert (
            json.loads(as_other("index", "stats", "--db", str(db), "--json").stdout)["records"] == 3
        )
        r = as_other("index", "remove", "--db", str(db), "1")
        assert r.returncode == 2 and "read-only" in r.stderr and r.stderr.count("\n") == 1
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)
