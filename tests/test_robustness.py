"""Variant augmentation and the robustness suite, on tiny models and squeezenet (the variants
themselves: tests/test_variants.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.models import tiny_overrides

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
    extra = [
        "data.variants=[plumbing,dynamo]",
        "data.variant_copies=2",
        f"data.variant_cache={tmp_path / 'v'}",
    ]
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
        hasher,
        ["opset11", "plumbing", "softmax_head"],
        small_zoo,
        variant_cache=tmp_path,
        models=ZOO,
        progress=False,
    )
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
    argv = [
        "--checkpoint",
        str(robust_checkpoint),
        "--models",
        ",".join(ZOO),
        "--zoo-cache",
        str(small_zoo),
        "--variant-cache",
        str(tmp_path / "v"),
        "--transforms",
        "opset11",
    ]
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


CORPUS_SPECS = ["timm:test_vit", "timm:test_resnet", "hf:bert:tiny", "hf:gpt2:tiny"]


@pytest.fixture(scope="module")
def hub_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (tiny) hub corpus: two timm models and two transformers configs."""
    from hnnframe.corpus import build_corpus
    from hnnframe.corpus.catalog import candidate_for

    cache = tmp_path_factory.mktemp("corpus")
    build_corpus([candidate_for(s) for s in CORPUS_SPECS], cache, jobs=1, progress=False)
    return cache


def test_suite_over_the_corpus(robust_checkpoint: Path, hub_corpus: Path, tmp_path: Path) -> None:
    from hnnframe.corpus import load_corpus
    from hnnframe.hashing import Hasher
    from hnnframe.robustness import robustness_suite

    keys = [e.key for e in load_corpus(hub_corpus)]
    assert len(keys) == 4
    queries = [k for k in keys if k.startswith("hf--")]
    hasher = Hasher.from_checkpoint(robust_checkpoint)
    rows = robustness_suite(
        hasher,
        ["dynamo", "opset11", "normalize"],
        corpus=True,
        corpus_cache=hub_corpus,
        models=queries,
        variant_cache=tmp_path,
        progress=False,
    )
    by = {r["transform"]: r for r in rows}
    # The corpus holds the meta-device dynamo export of a transformers config; its exports
    # with weights (the dynamo exporter with its optimiser, the TorchScript exporter at
    # opset 11) canonicalise to the same graph under the checkpoint's recipe.
    for t in ("dynamo", "opset11"):
        assert by[t]["models"] == 2 and by[t]["same_graph"] == 1.0, by[t]
        assert by[t]["hamming_median"] == 0 and by[t]["nn_own"] == 1.0
        assert {d["model"] for d in by[t]["details"]} == set(queries)
        assert all(d["nearest_category"].startswith("hf.") for d in by[t]["details"])
    # normalisation applies to images only: recorded, not a crash
    assert by["normalize"]["models"] == 0 and by["normalize"]["failed"] == 2
    assert all("images" in e for e in by["normalize"]["errors"].values())
    with pytest.raises(Exception, match="not corpus architectures"):
        robustness_suite(
            hasher,
            ["dynamo"],
            corpus=True,
            corpus_cache=hub_corpus,
            models=["nope"],
            variant_cache=tmp_path,
            progress=False,
        )


def test_suite_cli_over_the_corpus(
    robust_checkpoint: Path, hub_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hnnframe.cli import main

    argv = [
        "eval",
        "--suite",
        "robustness",
        "--checkpoint",
        str(robust_checkpoint),
        "--corpus",
        "--corpus-cache",
        str(hub_corpus),
        "--models",
        "timm--test_vit",
        "--variant-cache",
        str(tmp_path),
        "--transforms",
        "dynamo",
        "--json",
    ]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)["results"][0]["rows"]
    assert rows[0]["transform"] == "dynamo" and rows[0]["models"] == 1
    assert rows[0]["details"][0]["model"] == "timm--test_vit" and rows[0]["same_graph"] == 1.0
