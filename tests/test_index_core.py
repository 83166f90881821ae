"""The hash index itself (hnnframe.index.core): check verdicts, searches that follow other
writers, SQL and in-memory search agreeing, and add_models over batches of real ONNX files
that hold bad files, are interrupted, and are run again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from support.index import FP_A, brute, distinct_copies, fake

import hnnframe.index as hindex
from hnnframe.errors import IndexStoreError
from hnnframe.files import model_sha256
from hnnframe.hashing import Hasher

pytest_plugins = ["support.index"]


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


@pytest.mark.postgres
def test_postgres_sql_and_memory_search_agree(pg_schema: str) -> None:
    recs = fake(500, bits=128, seed=3)
    with hindex.open(pg_schema) as sql, hindex.open(pg_schema, search="memory") as mem:
        sql.add(recs, fingerprint=FP_A)
        for q in recs[:20:4]:
            for k, r in [(10, None), (None, 50), (5, 52)]:
                a = [(m.distance, m.record.id) for m in sql.search(q, k=k, radius=r)]
                b = [(m.distance, m.record.id) for m in mem.search(q, k=k, radius=r)]
                assert a == b and a


# -- add_models: batches of model files -----------------------------------------------------------
class RecordingHasher(Hasher):
    """A real hasher that records what it is asked to hash (and the sha256s it is given), and
    can stop a batch as a Ctrl-C would, after ``stop_after`` chunks."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.hashed: list[str] = []
        self.shas: list[str | None] = []
        self.stop_after: int | None = None

    def iter_hash(
        self,
        sources: Sequence[Any],
        chunk: int = 32,
        progress: bool = False,
        shas: Sequence[str | None] | None = None,
    ) -> Iterator[list[Any]]:
        self.shas = list(shas) if shas is not None else []
        for n, part in enumerate(super().iter_hash(sources, chunk, progress, shas)):
            if n == self.stop_after:
                raise KeyboardInterrupt
            self.hashed += [r.path for r in part]
            yield part


@pytest.fixture(scope="module")
def hasher(tiny_checkpoint: Path) -> RecordingHasher:
    return RecordingHasher.from_checkpoint(tiny_checkpoint)


def test_add_models_adds_good_files_and_names_bad_ones(
    url: str, hasher: RecordingHasher, tiny_onnx_models: list[Path], tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(tiny_onnx_models[0].read_bytes()[:100])  # truncated protobuf
    missing = tmp_path / "missing.onnx"
    good = [str(p) for p in tiny_onnx_models[:3]]
    batch = [good[0], str(corrupt), good[1], str(missing), good[2]]
    hasher.hashed.clear()
    with hindex.open(url) as idx:
        res = idx.add_models(batch, hasher, checkpoint="model.pt", chunk=2)
        assert [r.path for r in res] == batch
        assert [r.ok for r in res] == [True, False, True, False, True]
        assert [r.added for r in res] == [True, False, True, False, True]
        assert res[1].error.startswith(f"{corrupt}: ") and res[1].id is None
        assert res[3].error == f"{missing}: no such file"
        assert sorted(r.path for r in idx.list()) == sorted(good)
        # The tiny exports name an external data file they do not ship, so a record's key is
        # model_sha256 (file plus its missing data marked), not the bare file's digest.
        assert {r.sha256 for r in idx.list()} == {model_sha256(p) for p in good}
        entry = json.loads(json.dumps(res[1].to_dict()))
        assert entry["path"] == str(corrupt) and "corrupt.onnx" in entry["error"]
    # The hasher was handed the sha256s add_models computed, so no file is digested twice.
    assert hasher.shas == [model_sha256(p) if Path(p).exists() else None for p in batch]


def test_add_models_rerun_hashes_only_new_files(
    url: str, hasher: RecordingHasher, tiny_onnx_models: list[Path], tmp_path: Path
) -> None:
    files = [str(p) for p in distinct_copies(tiny_onnx_models, 7, tmp_path / "m")]
    with hindex.open(url) as idx:
        hasher.hashed.clear()
        first = idx.add_models(files[:3], hasher, checkpoint="model.pt", label="a", chunk=2)
        assert hasher.hashed == files[:3] and all(r.added for r in first)
        hasher.hashed.clear()
        again = idx.add_models(files, hasher, label="b", chunk=2)
        assert hasher.hashed == files[3:]
        assert [r.added for r in again] == [False] * 3 + [True] * 4
        assert [r.id for r in again[:3]] == [r.id for r in first]
        assert idx.stats()["labels"] == {"a": 3, "b": 4}  # known records keep their label


def test_add_models_interrupted_keeps_committed_chunks(
    url: str, hasher: RecordingHasher, tiny_onnx_models: list[Path], tmp_path: Path
) -> None:
    files = [str(p) for p in distinct_copies(tiny_onnx_models, 7, tmp_path / "m")]
    with hindex.open(url) as idx:
        hasher.stop_after = 2  # two chunks of 2 are committed, then Ctrl-C
        try:
            with pytest.raises(KeyboardInterrupt):
                idx.add_models(files, hasher, checkpoint="model.pt", chunk=2)
        finally:
            hasher.stop_after = None
        assert [r.path for r in idx.list()] == [os.path.abspath(f) for f in files[:4]]
        hasher.hashed.clear()
        res = idx.add_models(files, hasher, chunk=2)
        assert hasher.hashed == files[4:] and [r.added for r in res] == [False] * 4 + [True] * 3
        assert len(idx) == 7 and idx.verify() == []
        with pytest.raises(IndexStoreError, match="chunk"):
            idx.add_models(files, hasher, chunk=0)
