"""Variant augmentation and the robustness suite, on tiny models and squeezenet (the variants
themselves: tests/test_variants.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import tiny_overrides

ZOO = ["squeezenet1_0", "squeezenet1_1"]


@pytest.fixture(scope="module")
def small_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zoo cache holding two real Table-1 models."""
    from hnnframe.data.zoo import build_zoo

    d = tmp_path_factory.mktemp("zoo")
    build_zoo(d, ZOO, jobs=1, progress=False)
    return d


@pytest.fixture(scope="module")
def robust_checkpoint(
    tmp_path_factory: pytest.TempPathFactory, tiny_onnx_models: list[Path]
) -> Path:
    """The robust recipe trained for two epochs on the tiny models (with their variants)."""
    from hnnframe.recipe import load_recipe
    from hnnframe.train import Trainer

    out = tmp_path_factory.mktemp("robust_run")
    overrides = tiny_overrides(tiny_onnx_models, out, epochs=2)
    overrides.append(f"data.variant_cache={out / 'variants'}")
    Trainer(load_recipe("hnn_net_robust", overrides), out, progress=False).fit()
    return out / "model.pt"


def test_variant_copies_join_training_only(tiny_onnx_models: list[Path], tmp_path: Path) -> None:
    from hnnframe.data.dataset import build_dataset
    from hnnframe.recipe import load_recipe

    base = tiny_overrides(tiny_onnx_models, tmp_path) + ["data.holdout=[mlp_3]"]
    extra = ["data.variants=[plumbing,dynamo]", "data.variant_copies=2",
             f"data.variant_cache={tmp_path / 'v'}"]  # fmt: skip
    plain = build_dataset(load_recipe("hnn_net", base))
    paper = build_dataset(load_recipe("hnn_net", base + extra))
    # The paper recipe keeps the inserted plumbing: every training model gets 2 copies; dynamo
    # needs a torch module and is skipped for files; the held-out model gets none.
    assert len(paper.train) == len(plain.train) + 2 * 5
    assert [s.key for s in paper.test] == [s.key for s in plain.test]
    assert [s.key for s in paper.unseen] == [s.key for s in plain.unseen]
    assert not any(s.model == "mlp_3" for s in paper.train)
    assert len({s.key for s in paper.train}) == len(paper.train)
    # Variants are training data, not retrieval database entries: both protocols query the
    # same database with and without them.
    assert [s.key for s in paper.database] == [s.key for s in plain.database]
    assert {s.variant for s in paper.train} == {"", "plumbing"}
    # The robust recipe's canonicalisation removes the plumbing: nothing new to learn from.
    robust = build_dataset(load_recipe("hnn_net_robust", base + extra))
    assert len(robust.train) == len(plain.train)


def test_suite_rows(robust_checkpoint: Path, small_zoo: Path, tmp_path: Path) -> None:
    from hnnframe.hashing import Hasher
    from hnnframe.robustness import goal_met, robustness_suite

    hasher = Hasher.from_checkpoint(robust_checkpoint)
    rows = robustness_suite(
        hasher, ["opset11", "plumbing", "softmax_head"], small_zoo,
        variant_cache=tmp_path, models=ZOO, progress=False,
    )  # fmt: skip
    by = {r["transform"]: r for r in rows}
    assert list(by) == ["opset11", "plumbing", "softmax_head", "all listed", "all unlisted"]
    for t in ("opset11", "plumbing"):  # canonicalisation makes these the original graph
        r = by[t]
        assert r["models"] == 2 and r["same_graph"] == 1.0
        assert r["hamming_median"] == 0 and r["nn_own"] == 1.0 and goal_met(r, hasher.bits)
        assert [d["model"] for d in r["details"]] == ZOO
    assert by["softmax_head"]["same_graph"] == 0.0 and not by["softmax_head"]["listed"]
    assert by["all listed"]["models"] == 4 and by["all unlisted"]["models"] == 2


def test_suite_cli_json_and_results_block(
    robust_checkpoint: Path, small_zoo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hnnframe.cli import main as hnn

    def main(argv: list[str]) -> int:
        return hnn(["eval", "--suite", "robustness", *argv])

    md = tmp_path / "results.md"
    md.write_text("# Results\n\nProtocol tables of another issue.\n")
    argv = ["--checkpoint", str(robust_checkpoint), "--models", ",".join(ZOO),
            "--zoo-cache", str(small_zoo), "--variant-cache", str(tmp_path / "v"),
            "--transforms", "opset11"]  # fmt: skip
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["results"][0]["rows"][0]["transform"] == "opset11"
    assert main([*argv, "--write-results", str(md)]) == 0
    assert "opset11" in capsys.readouterr().out
    assert main([*argv, "--write-results", str(md), "--section", "other", "--title", "T2"]) == 0
    assert main([*argv, "--write-results", str(md)]) == 0  # replaces "main", keeps "other"
    text = md.read_text()
    assert text.startswith("# Results\n\nProtocol tables of another issue.\n")
    assert text.count("<!-- robustness:begin -->") == 1 and text.count("### T2") == 1
    assert (
        text.count("### All zoo models") == 1
        and "Command: `hnn eval --suite robustness --checkpoint" in text
    )
    assert "| opset11 | yes | 2 |" in text
    capsys.readouterr()
    assert main([*argv[:-1], "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown transform" in err[0]
