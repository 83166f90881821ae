"""The tiny weight test bed, built through the CLI: real trained models and copies, the code's
ordering (every copy nearer its base than every independently trained model), the digests'
exact verdicts, the evaluation and the ``hnn weights`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hnnframe.cli import main
from hnnframe.codes import hamming
from hnnframe.weights.evaluate import FPR, evaluate, fingerprint_bed, threshold_at
from hnnframe.weights.readers import detect_format
from hnnframe.weights.testbed import EXACT_KINDS, TINY_KINDS, load_manifest


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("weights") / "bed"
    assert main(["weights", "testbed", "--tiny", "--out", str(root), "--json"]) == 0
    return root


@pytest.fixture(scope="module")
def prints(bed: Path):
    return fingerprint_bed(bed, 256)


def test_bed_holds_real_files_of_every_kind(bed: Path) -> None:
    models = load_manifest(bed)["models"]
    kinds = {e["kind"] for e in models.values() if e["kind"]}
    assert kinds == set(TINY_KINDS)
    for e in models.values():
        assert detect_format(bed / e["file"]) == e["format"]
    permuted = [e for e in models.values() if e["kind"] == "permute"]
    assert permuted and all(e["max_output_diff"] < 1e-4 for e in permuted)


def test_build_resumes_without_redoing(bed: Path) -> None:
    before = {k: e["sha256"] for k, e in load_manifest(bed)["models"].items()}
    mpath = bed / "manifest.json"
    models = json.loads(mpath.read_text())
    gone = next(k for k, e in models["models"].items() if e["kind"] == "prune50")
    (bed / models["models"][gone]["file"]).unlink()
    assert main(["weights", "testbed", "--tiny", "--out", str(bed), "--json"]) == 0
    after = {k: e["sha256"] for k, e in load_manifest(bed)["models"].items()}
    assert after == before  # the one missing copy came back identical, nothing else redone


def test_every_copy_is_nearer_than_every_independent_model(bed: Path, prints) -> None:
    manifest, fps = prints
    models = manifest["models"]
    for base, e in models.items():
        if e["role"] != "base":
            continue
        same = [m for m, f in models.items() if f["arch"] == e["arch"] and m != base]
        indep = [m for m in same if (models[m]["base"] or m) != base]
        nearest = min(hamming(fps[base].code, fps[m].code) for m in indep)
        for m in same:
            if models[m]["base"] == base:
                d = hamming(fps[base].code, fps[m].code)
                assert d < nearest, (m, d, nearest)


def test_evaluation_names_exact_copies_and_ranks_every_kind(prints) -> None:
    r = evaluate(*prints)
    assert r["exact_missed"] == {}
    for kind in EXACT_KINDS:
        if kind in r["kinds"]:
            assert set(r["kinds"][kind]["verdicts"]) <= {"exact file", "exact tensors"}
    assert all(k["auc"] == 1.0 for k in r["kinds"].values())  # the ordering above, per kind
    assert r["fpr"] <= r["fpr_target"]


def test_threshold_rule() -> None:
    assert threshold_at([10, 20, 30, 40], 0.0, 64) == 9
    assert threshold_at([10, 20, 30, 40], 0.25, 64) == 19
    assert threshold_at([0, 5], 0.0, 64) == -1


def test_eval_command_writes_threshold_and_block(bed: Path, tmp_path: Path, capsys) -> None:
    thr, md = tmp_path / "threshold.json", tmp_path / "results.md"
    md.write_text(
        "# Results\n\n<!-- weights:begin -->\nSTALE-BLOCK\n<!-- weights:end -->\n\ntail\n"
    )
    argv = [
        "weights",
        "eval",
        "--testbed",
        str(bed),
        "--bits",
        "64,256",
        "--default-bits",
        "256",
        "--threshold-file",
        str(thr),
        "--write-results",
        str(md),
        "--json",
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["bits"] for r in out["results"]] == [64, 256]
    data = json.loads(thr.read_text())
    assert data["fpr_target"] == FPR and set(data["thresholds"]) == {"64", "256"}
    for entry in data["thresholds"].values():  # both thresholds of the verdict, per Q
        assert {"threshold", "block_threshold"} <= set(entry)
    assert data["command"].startswith("hnn weights eval")
    text = md.read_text()
    assert "STALE-BLOCK" not in text and text.rstrip().endswith("tail")
    assert "hnn weights eval" in text and "| permute |" in text


def test_fingerprint_and_compare_commands(bed: Path, capsys) -> None:
    models = load_manifest(bed)["models"]
    base = bed / models["mlp-base0"]["file"]
    ft = bed / models["mlp-base0-finetune"]["file"]
    other = bed / models["mlp-seed0"]["file"]
    assert main(["weights", "fingerprint", str(base), "--bits", "64", "--json"]) == 0
    fp = json.loads(capsys.readouterr().out)["fingerprints"][0]
    assert fp["bits"] == 64 and len(bytes.fromhex(fp["code"])) == 8 and fp["tensors"] == 4
    assert (
        main(
            [
                "weights",
                "compare",
                str(base),
                str(ft),
                "--bits",
                "64",
                "--threshold",
                "64",
                "--json",
            ]
        )
        == 1
    )
    assert json.loads(capsys.readouterr().out)["verdict"] == "weight match"
    assert (
        main(["weights", "compare", str(base), str(other), "--bits", "64", "--threshold", "0"]) == 0
    )
    assert capsys.readouterr().out.startswith("none:")


def test_cli_errors_are_one_line(bed: Path, tmp_path: Path, capsys) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"garbage")
    assert main(["weights", "fingerprint", str(junk), str(tmp_path / "missing.pt")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(e.startswith("hnn: error: ") for e in err)
    for argv in (
        ["weights", "eval", "--testbed", str(tmp_path / "nobed")],
        ["weights", "eval", "--testbed", str(bed), "--bits", "12"],
        ["weights", "compare", str(junk), str(junk)],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("hnn: error: "), argv
