"""hnnframe.upload: one source described as everything the index stores (structural code,
architecture digests, sha256, tensor digests, weight code), the same whether ``index add``,
``index check`` or a caller of :func:`describe_upload` asks."""

from __future__ import annotations

from pathlib import Path

import pytest

import hnnframe.index as hindex
from hnnframe.errors import HnnError
from hnnframe.files import model_sha256
from hnnframe.frontends import model_name
from hnnframe.hashing import Hasher
from hnnframe.repo import upload_sha256
from hnnframe.upload import Upload, describe_upload, describe_uploads
from hnnframe.weights.fingerprint import fingerprint

pytest_plugins = ["support.index"]


def test_an_upload_carries_everything_the_index_stores(
    weight_bed: dict[str, Path], weight_hasher: Hasher, tmp_path: Path
) -> None:
    path = weight_bed["exact_onnx"]
    up = describe_upload(path, weight_hasher, weight_bits=256)
    plain = weight_hasher.hash(str(path))
    assert isinstance(up, Upload) and up.path == str(path) and up.structure is None
    assert (up.code, up.bits, up.graph_digest) == (plain.code, plain.bits, plain.graph_digest)
    assert up.sha256 == model_sha256(path) and up.hex == plain.hex
    fp = fingerprint(path, 256, up.sha256)
    assert up.weight_code == fp.code and up.tensor_digests == list(fp.digests)
    # `index add` stores exactly this upload: its record holds the same code and weights.
    with hindex.open(tmp_path / "a.db") as idx:
        [added] = idx.add_models([path], weight_hasher)
        rec = idx.get(added.id)
    assert (rec.code, rec.sha256, rec.graph_digest) == (up.code, up.sha256, up.graph_digest)
    assert rec.weights.code == up.weight_code and rec.weights.tensors == len(up.tensor_digests)


def test_a_weights_file_is_described_through_its_companion(
    weight_bed: dict[str, Path], weight_hasher: Hasher
) -> None:
    structure = describe_upload(weight_bed["exact_onnx"], weight_hasher)
    seed = weight_bed["seed0"]
    up = describe_upload(
        seed, weight_hasher, structure=str(weight_bed["exact_onnx"]), weight_bits=256
    )
    assert (up.path, up.name, up.sha256) == (str(seed), model_name(str(seed)), upload_sha256(seed))
    assert up.code == structure.code and up.structure == str(weight_bed["exact_onnx"])
    assert up.weights is not None and up.weights.sha256 == up.sha256
    # without weight_bits no weights are read
    assert describe_upload(weight_bed["exact_onnx"], weight_hasher).weights is None


def test_one_bad_upload_is_named_and_the_others_described(
    weight_bed: dict[str, Path], weight_hasher: Hasher, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.onnx"
    batch = [weight_bed["exact_onnx"], missing, weight_bed["seed0"]]
    good, gone, lone = describe_uploads(batch, weight_hasher, weight_bits=256, errors="collect")
    assert good.ok and good.weights is not None
    assert not gone.ok and gone.error == f"{missing}: no such file"
    # a weights file with no companion structure (no config.json beside it) says so
    assert not lone.ok and "carries no architecture" in lone.error
    with pytest.raises(HnnError, match="no such file"):
        describe_uploads(batch[:2], weight_hasher, weight_bits=256)
