"""The weight tier in the hash index (issue 12, item 3): ``add`` stores tensor digests and a
weight code beside the structural code of files that carry weights, and ``check`` says which
tier an upload matched: exact file, exact tensors, weight match, same architecture (issue 22:
tests/test_index_arch.py) or structure only.

Real trained models: the MLPs of the weight test bed (:mod:`hnnframe.weights.testbed`, one
base and two independently trained seeds, with copies of the base made by re-saving,
fine-tuning, int8 quantization, fp16 and permutation), as ONNX with weights, safetensors and
state dicts (the ``weight_bed`` fixture of tests/support/index.py); weight-stripped ONNX files
from tests/conftest.py. Every test that takes ``url`` runs on SQLite and on PostgreSQL. The
storage side (Hamming search of weight codes, migration) is in test_index_weights_store.py.
"""

from __future__ import annotations

import json
import shutil
import tracemalloc
from pathlib import Path

import numpy as np
import onnx
import pytest
from support.index import run_cli

import hnnframe.index as hindex
from hnnframe.codes import hamming
from hnnframe.errors import ConfigError, IndexStoreError, ModelLoadError
from hnnframe.files import file_sha256
from hnnframe.hashing import Hasher
from hnnframe.index.sql import SCHEMA_VERSION
from hnnframe.index.tiers import stored_fingerprints
from hnnframe.weights.fingerprint import fingerprint, load_threshold

pytest_plugins = ["support.index"]

SHIPPED = load_threshold(256)


@pytest.fixture
def bed(weight_bed: dict[str, Path]) -> dict[str, Path]:
    return weight_bed


@pytest.fixture
def hasher(weight_hasher: Hasher) -> Hasher:
    return weight_hasher


def _indexed(url: str, bed: dict[str, Path], hasher: Hasher, stripped: Path) -> hindex.HashIndex:
    """An index of the base (ONNX with weights), an independently trained seed (safetensors
    with the base's ONNX as its structure) and a weight-stripped file."""
    idx = hindex.open(url)
    res = idx.add_models([bed["exact_onnx"], stripped], hasher, checkpoint="model.pt")
    res += idx.add_models([bed["seed0"]], hasher, structure=bed["exact_onnx"])
    assert [r.ok for r in res] == [True] * 3 and [r.weights is not None for r in res] == [
        True,
        False,
        True,
    ]
    return idx


# -- add -----------------------------------------------------------------------------------------
def test_add_stores_digests_and_weight_code(url, bed, hasher, tiny_onnx_models) -> None:
    stripped = tiny_onnx_models[4]
    with _indexed(url, bed, hasher, stripped) as idx:
        base, strip, seed = idx.list()
        fp = fingerprint(bed["exact_onnx"])
        assert (base.weights.code, base.weights.tensor_set) == (fp.code, fp.tensor_set)
        assert (base.weights.bits, base.weights.tensors, base.weights.params) == (256, 4, fp.params)
        assert base.weights.format == "onnx" and base.structure is None
        assert strip.weights is None and strip.path == str(stripped)  # stripped: as before
        # a weights file: its own path, name and sha256, the companion's structural code
        assert (seed.path, seed.name, seed.sha256) == (
            str(bed["seed0"]),
            "mlp-seed0",
            file_sha256(bed["seed0"]),
        )
        assert seed.structure == str(bed["exact_onnx"]) and seed.code == base.code
        assert seed.weights.format == "safetensors"
        # the stored digests are the file's, multiset and all
        stored = stored_fingerprints(idx._store, [base])[base.id]
        assert stored.digests == fp.digests and stored.tensor_set == fp.tensor_set
        s = idx.stats()
        assert s["schema_version"] == SCHEMA_VERSION
        assert s["weights"] == {"records": 2, "bits": 256, "digests": 8, "params": 2 * fp.params}
        assert idx.verify() == []
        # ONNX with external data present: weights; the same file without its data: none
        res = idx.add_models([bed["external"], bed["external_gone"]], hasher)
        assert res[0].weights["tensor_set"] == fp.tensor_set and res[1].weights is None
        assert all(r.added for r in res)


def test_add_weights_file_needs_a_structure(url, bed, hasher, tmp_path) -> None:
    with hindex.open(url) as idx:
        [r] = idx.add_models([bed["seed1"]], hasher, checkpoint="model.pt")
        assert not r.ok and r.error.startswith(f"{bed['seed1']}: a safetensors weights file")
        assert "--structure" in r.error and len(idx) == 0
        # the Hugging Face layout: a config.json beside the weights is its structure, and a
        # config that is not one is that file's error (the others go on)
        folder = tmp_path / "snapshot"
        folder.mkdir()
        (folder / "config.json").write_text('{"not": "a transformers config"}')
        shutil.copy(bed["seed1"], folder / "model.safetensors")
        res = idx.add_models([folder / "model.safetensors", bed["exact_onnx"]], hasher)
        assert not res[0].ok and "config.json" in res[0].error and res[1].added
        # a state dict with a structure; --no-weights (weights=False) stores none
        [sd] = idx.add_models([bed["exact_statedict"]], hasher, structure=bed["exact_onnx"])
        assert sd.added and sd.weights["format"] == "torch"
        [nw] = idx.add_models([bed["seed1_onnx"]], hasher, weights=False)
        assert nw.added and nw.weights is None and idx.get(nw.id).weights is None
        # one weight Q per index, and only a Q with a shipped threshold
        with pytest.raises(IndexStoreError, match="256-bit weight codes"):
            idx.add_models([bed["fp16"]], hasher, weight_bits=512)
    with hindex.open(tmp_path / "q.db") as other:
        with pytest.raises(ConfigError, match="Q = 96"):
            other.add_models([bed["fp16"]], hasher, checkpoint="model.pt", weight_bits=96)


def test_add_reads_one_tensor_at_a_time(bed, hasher, tmp_path) -> None:
    """Adding and checking a weights file needs memory of the order of its largest tensor, not
    of the whole model (32 tensors of 2 MB here: measured peaks about 9.4 MB)."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    big = tmp_path / "big.safetensors"
    save_file(
        {f"layer{i}.weight": rng.standard_normal((512, 1024), dtype=np.float32) for i in range(32)},
        str(big),
    )
    total = 32 * 512 * 1024 * 4
    with hindex.open(tmp_path / "mem.db") as idx:
        idx.add_models([bed["exact_onnx"]], hasher, checkpoint="model.pt")  # warm up
        tracemalloc.start()
        try:
            [r] = idx.add_models([big], hasher, structure=bed["exact_onnx"])
            _, peak_add = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            [(_, v)] = idx.check_models([big], hasher, structure=bed["exact_onnx"])
            _, peak_check = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert r.weights["params"] == total // 4 and r.weights["largest"] == 512 * 1024
    assert v.tier == "exact file"
    assert peak_add < total / 4 and peak_check < total / 4, (peak_add, peak_check, total)


# -- check: the tiers ----------------------------------------------------------------------------
def test_check_names_the_tier(url, bed, hasher, tiny_onnx_models) -> None:
    with _indexed(url, bed, hasher, tiny_onnx_models[4]) as idx:
        base_id = idx.list()[0].id
        ups = [
            "byte_copy",
            "resaved",
            "exact_renamed",
            "exact_statedict",
            "finetune",
            "int8_dynamic",
            "fp16",
            "permute",
            "seed1",
            "seed1_onnx",
            "external_gone",
        ]
        got = idx.check_models([bed[k] for k in ups], hasher, structure=bed["exact_onnx"])
        verdicts = {k: v for k, (_, v) in zip(ups, got, strict=True)}
        want = {
            "byte_copy": "exact file",
            "resaved": "exact tensors",
            "exact_renamed": "exact tensors",
            "exact_statedict": "exact tensors",
            "finetune": "weight match",
            "int8_dynamic": "weight match",
            "fp16": "weight match",
            "permute": "weight match",
            "seed1": "same architecture",
            "seed1_onnx": "same architecture",
            "external_gone": "same architecture",
        }
        assert {k: v.tier for k, v in verdicts.items()} == want
        for k, v in verdicts.items():
            top = v.candidates[0]
            if want[k] != "same architecture":
                assert top.record.id == base_id and v.fails("auto") and v.fails("weights")
                assert top.weights.compared and top.weights.threshold == SHIPPED["threshold"]
                assert top.weights.fpr == SHIPPED["fpr"]
                assert v.threshold["threshold"] == SHIPPED["threshold"]
            if want[k] == "weight match":
                assert 0 < top.weights.distance <= SHIPPED["threshold"] and not v.fails("exact")
                assert top.weights.distance == hamming(
                    fingerprint(bed[k]).code, fingerprint(bed["exact_onnx"]).code
                )
        # exact file and exact tensors are told apart
        assert verdicts["byte_copy"].candidates[0].record.sha256 == file_sha256(bed["byte_copy"])
        assert verdicts["resaved"].candidates[0].weights.shared == 1.0
        # independently trained: the same architecture with other weights, and the stripped
        # record (another architecture, weights unknown) beside it
        ind = verdicts["seed1_onnx"]
        with_w = [c for c in ind.candidates if c.record.weights is not None]
        assert all(
            c.tier == ("same architecture" if c in with_w else "structure only")
            for c in ind.candidates
        )
        assert len(with_w) == 2 and all(
            c.weights.compared and c.weights.distance > SHIPPED["threshold"] for c in with_w
        )
        assert ind.fails("auto") and ind.fails("structure") and not ind.fails("weights")
        assert not ind.fails("none")
        # an upload without its weights is compared by structure only
        gone = verdicts["external_gone"]
        assert gone.weights is None and all(not c.weights.compared for c in gone.candidates)
        assert gone.candidates[0].weights.reason == "the upload carries no weights"
        # a weight match is found by its weight code even beyond the structural radius (a
        # quantized graph has other operators)
        far = max(
            ("finetune", "int8_dynamic", "fp16"), key=lambda k: verdicts[k].candidates[0].distance
        )
        d = verdicts[far].candidates[0].distance
        assert d > 0
        [(_, v)] = idx.check_models([bed[far]], hasher, radius=d - 1)
        assert v.tier == "weight match" and not v.candidates[0].within_radius and v.fails()
        # the JSON form carries the tiers
        d = json.loads(json.dumps(verdicts["finetune"].to_dict("auto")))
        assert d["tier"] == "weight match" and d["suspect"] is True
        assert d["candidates"][0]["tier"] == "weight match"
        assert d["candidates"][0]["weights"]["threshold"] == SHIPPED["threshold"]


def test_independent_model_is_no_copy(url, bed, hasher) -> None:
    """Where every structural neighbour has weights, an independently trained model of the
    same architecture is the same architecture with other weights and no suspected copy
    (exit 0)."""
    with hindex.open(url) as idx:
        idx.add_models([bed["exact_onnx"]], hasher, checkpoint="model.pt")
        idx.add_models([bed["seed0"]], hasher, structure=bed["exact_onnx"])
        [(_, v)] = idx.check_models([bed["seed1_onnx"]], hasher)
        assert v.tier == "same architecture" and len(v.candidates) == 2
        assert not v.fails("auto") and v.fails("structure") and not v.clean


# -- check: the command --------------------------------------------------------------------------
def test_cli_check_exit_status_and_json(url, bed, hasher, tiny_checkpoint, capsys) -> None:
    rc, out, err = run_cli(
        capsys, "add", "--db", url, "--checkpoint", tiny_checkpoint, bed["exact_onnx"]
    )
    assert rc == 0 and "+ weights: 4 tensors" in out, err
    rc, _, err = run_cli(capsys, "add", "--db", url, "--structure", bed["exact_onnx"], bed["seed0"])
    assert rc == 0, err
    rc, _, err = run_cli(capsys, "add", "--db", url, bed["seed1"])
    assert rc == 1 and "--structure" in err

    def check(*argv: object) -> tuple[int, str]:
        rc, out, err = run_cli(capsys, "check", "--db", url, *argv)
        assert rc in (0, 1), err
        return rc, out

    rc, out = check(bed["byte_copy"])
    assert rc == 1 and out.startswith(f"SUSPECT  {bed['byte_copy']}: exact file (#1 mlp-base0-")
    assert "exact file" in out.splitlines()[2] and f"FPR {SHIPPED['fpr']:.2%}" in out
    assert check(bed["resaved"])[0] == 1
    rc, out = check(bed["fp16"])
    assert rc == 1 and "weight match (#1" in out.splitlines()[0]
    assert f"(threshold {SHIPPED['threshold']}, FPR {SHIPPED['fpr']:.2%})" in out
    rc, out = check(bed["seed1_onnx"])  # independently trained: same architecture, exit 0
    assert rc == 0 and out.startswith(
        f"clean    {bed['seed1_onnx']}: same architecture as #1 mlp-base0-exact_onnx (other "
        "weights); "
    )
    assert check(bed["seed1_onnx"], "--fail-on", "structure")[0] == 1
    assert check(bed["byte_copy"], "--fail-on", "none")[0] == 0
    assert check(bed["fp16"], "--fail-on", "exact")[0] == 0
    assert check(bed["fp16"], "--fail-on", "weights")[0] == 1
    # a code threshold of 0: the codes (distance 1) no longer match, the kept blocks still do
    rc, out = check(bed["fp16"], "--weight-threshold", "0")
    assert rc == 1 and "(threshold 0," in out and "block_match: weight match" in out
    assert check(bed["byte_copy"], "--no-weights")[0] == 1  # still the same file
    rc, out = check("--structure", bed["exact_onnx"], bed["exact_renamed"], bed["seed1"])
    assert rc == 1 and "exact tensors (#1" in out and "clean    " + str(bed["seed1"]) in out

    rc, out = check(bed["finetune"], bed["seed1_onnx"], "--structure", bed["exact_onnx"], "--json")
    assert rc == 1
    doc = json.loads(out)
    assert [d["tier"] for d in doc] == ["weight match", "same architecture"]
    assert [d["suspect"] for d in doc] == [True, False]
    first = doc[0]["candidates"][0]
    assert first["tier"] == "weight match" and first["record"]["name"] == "mlp-base0-exact_onnx"
    assert first["weights"]["compared"] and first["weights"]["fpr"] == SHIPPED["fpr"]
    assert doc[0]["threshold"]["threshold"] == SHIPPED["threshold"]
    assert {c["tier"] for c in doc[1]["candidates"]} == {"same architecture"}
    assert all(c["weights"]["distance"] > SHIPPED["threshold"] for c in doc[1]["candidates"])
    rc, _, err = run_cli(capsys, "check", "--db", url, bed["seed1"])
    assert rc == 3 and "--structure" in err and err.count("\n") == 1  # unreadable: 3
    # search takes a weights file through its structure too
    rc, out, err = run_cli(
        capsys,
        "search",
        "--db",
        url,
        "--structure",
        bed["exact_onnx"],
        bed["seed1"],
        "-k",
        "1",
        "--json",
    )
    assert rc == 0 and json.loads(out)[0]["matches"][0]["distance"] == 0, err


def test_structure_only_index_works_as_before(
    url, tiny_checkpoint, tiny_onnx_models, capsys
) -> None:
    """An index of weight-stripped files: no weight records, and check says what it said,
    with the tier added; a copy of the architecture (another file, the same structure) is
    still a suspect (exit 1)."""
    models = [str(p) for p in tiny_onnx_models[:3]]
    rc, out, err = run_cli(capsys, "add", "--db", url, "--checkpoint", tiny_checkpoint, *models)
    assert rc == 0 and "weights" not in out, err
    rc, out, _ = run_cli(capsys, "stats", "--db", url, "--json")
    assert json.loads(out)["weights"]["records"] == 0
    copy = Path(tiny_onnx_models[0]).with_name("other_convnet.onnx")
    m = onnx.load(str(tiny_onnx_models[0]), load_external_data=False)
    m.doc_string = "another file, the same structure"
    onnx.save(m, str(copy))
    rc, out, _ = run_cli(capsys, "check", "--db", url, copy)
    lines = out.splitlines()
    assert rc == 1 and lines[0].startswith(f"SUSPECT  {copy}: same architecture as #1 convnet; ")
    radius = hindex.default_radius(hindex.open(url).binding.bits)
    assert lines[0].endswith(f"indexed model(s) within radius {radius}")
    assert lines[1] == "dist  id      name                     family       tier"
    assert "weights" not in out and lines[2].split()[:2] == ["0", "#1"]
    rc, out, _ = run_cli(capsys, "check", "--db", url, models[1], "--json")
    doc = json.loads(out)[0]
    assert rc == 1 and doc["tier"] == "exact file" and doc["weights"] is None
    assert doc["matches"][0]["distance"] == 0  # the structural matches, as before
    assert run_cli(capsys, "check", "--db", url, copy, "--fail-on", "weights")[0] == 0


def test_unreadable_weights_fail_that_file_only(url, bed, hasher, tmp_path) -> None:
    """An ONNX file whose external data is truncated: that file fails, the batch goes on."""
    folder = tmp_path / "trunc"
    shutil.copytree(bed["external"].parent, folder)
    data = folder / "external.data"
    data.write_bytes(data.read_bytes()[:100])
    with hindex.open(url) as idx:
        res = idx.add_models([folder / "external.onnx", bed["fp16"]], hasher, checkpoint="m.pt")
        assert not res[0].ok and res[0].error.startswith(f"{folder / 'external.onnx'}: ")
        assert "external data" in res[0].error and res[1].added and len(idx) == 1
    with pytest.raises(ModelLoadError):
        fingerprint(folder / "external.onnx")


def test_same_onnx_bytes_with_other_external_data_is_no_exact_file(
    url, bed, hasher, tmp_path
) -> None:
    """The sha256 of an ONNX file does not cover its external data: the same .onnx beside
    another data file (weights slightly changed) is a weight match, not an exact file."""
    folder = tmp_path / "swapped"
    shutil.copytree(bed["external"].parent, folder)
    data = folder / "external.data"
    w = np.frombuffer(data.read_bytes(), dtype="<f4").copy()
    w *= 1 + 1e-3 * np.random.default_rng(0).standard_normal(w.shape).astype(np.float32)
    data.write_bytes(w.astype("<f4").tobytes())
    swapped = folder / "external.onnx"
    assert file_sha256(swapped) == file_sha256(bed["external"])
    with hindex.open(url) as idx:
        idx.add_models([bed["external"]], hasher, checkpoint="model.pt")
        [(_, v)] = idx.check_models([swapped], hasher)
        assert v.tier == "weight match" and v.candidates[0].weights.shared == 0.0
        [(_, same)] = idx.check_models([bed["external"]], hasher)
        assert same.tier == "exact file"
        # The index names a model by its file and its data (files.model_sha256): the other
        # model with byte-identical .onnx is a new record, not "already indexed".
        [added] = idx.add_models([swapped], hasher, checkpoint="model.pt")
        assert added.added and len(idx) == 2
