"""hnnframe.hashing: hashing models with a checkpoint (hnn hash)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hnnframe.cli import main

#: What ``hnn hash --json`` prints per model (the digests: the index's same-architecture tier).
HASH_KEYS = {"path", "code", "bits", "graph_digest", "config_digest"}


def test_hash_cli_text_and_json(
    capsys: pytest.CaptureFixture[str], tiny_checkpoint: Path, tiny_onnx_models: list[Path]
) -> None:
    paths = [str(p) for p in tiny_onnx_models]
    assert main(["hash", "--checkpoint", str(tiny_checkpoint), *paths]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(paths) and all(
        len(ln.split()[0]) == 8 for ln in lines
    )  # 32 bits = 8 hex
    assert main(["hash", "--checkpoint", str(tiny_checkpoint), "--json", *paths]) == 0
    objs = [json.loads(ln) for ln in capsys.readouterr().out.strip().splitlines()]
    assert [set(o) for o in objs] == [HASH_KEYS] * len(paths)
    assert all(o["graph_digest"] and o["config_digest"] is None for o in objs)
    # the same file always gives the same code
    assert main(["hash", "--checkpoint", str(tiny_checkpoint), "--json", paths[0]]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["code"] == objs[0]["code"]


def test_a_batch_with_bad_files_hashes_the_rest(
    tiny_checkpoint: Path, tiny_onnx_models: list[Path], tmp_path: Path
) -> None:
    from hnnframe.errors import HnnError
    from hnnframe.hashing import Hasher

    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07garbage")
    missing = tmp_path / "missing.onnx"
    hasher = Hasher.from_checkpoint(tiny_checkpoint)
    sources = [str(tiny_onnx_models[0]), str(bad), str(missing), str(tiny_onnx_models[1])]
    out = hasher.hash_many(sources, errors="collect")
    assert [r.ok for r in out] == [True, False, False, True]
    assert out[1].error.startswith(str(bad)) and out[2].error.startswith(str(missing))
    # the good ones get exactly the codes they get alone
    assert out[3].code == hasher.hash(str(tiny_onnx_models[1])).code
    with pytest.raises(HnnError, match="broken.onnx"):
        hasher.hash_many(sources)
    chunks = list(hasher.iter_hash(sources, chunk=3))
    assert [len(c) for c in chunks] == [3, 1]
    assert [r.ok for c in chunks for r in c] == [True, False, False, True]
