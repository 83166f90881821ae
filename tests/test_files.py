"""hnnframe.files: atomic writes, digests and the cache layout."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hnnframe.files import atomic_write, cache_path, default_cache_dir, file_sha256


def test_atomic_write_replaces_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    p = tmp_path / "a.json"
    atomic_write(p, b"one")
    atomic_write(p, b"two")
    assert p.read_bytes() == b"two" and [f.name for f in tmp_path.iterdir()] == ["a.json"]
    atomic_write(tmp_path / "sub" / "b", b"x", mkdir=True)
    assert (tmp_path / "sub" / "b").read_bytes() == b"x"


def test_a_killed_writer_leaves_the_old_file(tmp_path: Path) -> None:
    """A process killed while it writes (before the rename) never leaves a torn file."""
    p = tmp_path / "big.bin"
    atomic_write(p, b"old")
    code = (
        "import os, signal\n"
        "import hnnframe.files as f\n"
        "real = os.replace\n"
        "os.replace = lambda a, b: os.kill(os.getpid(), signal.SIGKILL)\n"
        f"f.atomic_write({str(p)!r}, b'new' * 1000)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert r.returncode != 0
    assert p.read_bytes() == b"old"


def test_file_sha256(tmp_path: Path) -> None:
    p = tmp_path / "f"
    data = os.urandom(3 << 20)  # several 1 MB chunks
    p.write_bytes(data)
    assert file_sha256(p) == hashlib.sha256(data).hexdigest()


def test_cache_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HNN_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path
    assert cache_path("zoo") == tmp_path / "zoo"
    assert cache_path("zoo", "/elsewhere") == Path("/elsewhere")


def test_source_digest_names_the_code_behind_a_cache() -> None:
    from hnnframe.files import source_digest

    a = source_digest("canonical", "ir")
    assert a == source_digest("canonical", "ir") and len(a) == 16
    assert a != source_digest("canonical") != source_digest("canonical", extra="onnx 1.0")
    assert source_digest("wl") != source_digest("baselines")  # single modules count too


def test_model_sha256_covers_onnx_external_data(tmp_path) -> None:
    # Two models exported the same way: byte-identical .onnx files, different weights in their
    # data files. They must not share the digest that names a model in the index, and an
    # .onnx without its data file is not the model with it.
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from hnnframe.files import file_sha256, model_sha256

    def save(folder, seed: int):
        folder.mkdir()
        w = numpy_helper.from_array(np.random.default_rng(seed).random((64, 64), np.float32), "w")
        g = helper.make_graph(
            [helper.make_node("MatMul", ["x", "w"], ["y"])],
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
            [w],
        )
        path = folder / "m.onnx"
        onnx.save(
            helper.make_model(g),
            str(path),
            save_as_external_data=True,
            location="m.data",
            size_threshold=0,
        )
        return path

    a, b = save(tmp_path / "a", 0), save(tmp_path / "b", 1)
    assert file_sha256(a) == file_sha256(b)
    assert model_sha256(a) != model_sha256(b)
    (tmp_path / "b" / "m.data").unlink()
    assert model_sha256(b) not in (model_sha256(a), file_sha256(b))
    plain = tmp_path / "p.bin"
    plain.write_bytes(b"x")
    assert model_sha256(plain) == file_sha256(plain)
