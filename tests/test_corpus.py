"""hnnframe.corpus: candidates, a real (tiny) build with a failure and a size filter, resume,
shards, the manifest; then protocol (c) end to end on it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from hnnframe.cli import main
from hnnframe.corpus import build_corpus, load_corpus, parse_shard, read_manifest, split_corpus
from hnnframe.corpus.build import in_shard
from hnnframe.corpus.catalog import Candidate, candidate_for, family_group, spread
from hnnframe.errors import ConfigError

SPECS = ["timm:test_resnet", "timm:test_vit", "timm:test_efficientnet", "timm:test_convnext"]


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("corpus")
    cands = [candidate_for(s) for s in SPECS]
    cands.append(Candidate("timm--nope", "timm:no_such_model_xyz", "timm", "timm.resnet", "nope"))
    build_corpus(cands, cache, jobs=1, progress=False)
    return cache


def test_candidates_and_groups() -> None:
    c = candidate_for("timm:test_vit")
    assert c.family == "timm.vision_transformer" and c.group == "vision_transformer"
    assert candidate_for("torchvision:vit_b_16").group == "vision_transformer"
    assert family_group("hf.vit") == "vision_transformer" == family_group("timm.vision_transformer")
    assert candidate_for("torchvision:resnet18").family == "torchvision.resnet"
    assert spread([f"m{i}" for i in range(11)], 3) == ["m0", "m5", "m10"]
    with pytest.raises(ConfigError, match="unknown timm"):
        candidate_for("timm:no_such_model_xyz")


def test_shards_partition_the_candidates() -> None:
    keys = [f"k{i}" for i in range(200)]
    shares = [{k for k in keys if in_shard(k, (i, 3))} for i in range(3)]
    assert set().union(*shares) == set(keys) and sum(map(len, shares)) == len(keys)
    assert parse_shard("1/3") == (1, 3) and parse_shard(None) == (0, 1)
    for bad in ("3/3", "x", "1/0"):
        with pytest.raises(ConfigError, match="shard"):
            parse_shard(bad)


def test_build_records_failures_and_resumes(tiny_corpus: Path) -> None:
    m = read_manifest(tiny_corpus)
    assert m["summary"]["architectures"] == len(SPECS) and m["summary"]["failed"] == 1
    assert m["failed"][0]["key"] == "timm--nope" and m["failed"][0]["error"]
    a = {x["key"]: x for x in m["architectures"]}["timm--test_resnet"]
    assert a["params"] > 0 and a["nodes"] > 0 and a["family"] == "timm.resnet"
    assert (tiny_corpus / "timm--test_resnet.onnx").stat().st_size > 0
    # Nothing left to export: a rerun exports nothing and keeps the manifest.
    again = build_corpus([candidate_for(s) for s in SPECS], tiny_corpus, jobs=1, progress=False)
    assert again["this_build"]["exported_now"] == 0
    assert again["summary"]["architectures"] == len(SPECS)


def test_size_filter_and_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "corpus",
        "build",
        "--cache",
        str(tmp_path),
        "--spec",
        "timm:test_vit",
        "--max-params",
        "1000",
        "--jobs",
        "1",
        "--json",
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["summary"]["filtered"] == 1 and out["summary"]["architectures"] == 0
    assert main(["corpus", "stats", "--cache", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["filtered"] == 1


def test_protocol_c_end_to_end(tiny_corpus: Path, tmp_path: Path) -> None:
    from hnnframe.protocol_c import WLCoder, evaluate_coder, hub_queries

    entries = load_corpus(tiny_corpus)
    split = split_corpus(entries, ["resnet", "convnext"])
    assert {entries[i].group for i in split.test} == {"resnet", "convnext"}
    queries, errors = hub_queries(
        entries,
        split.test,
        ["softmax_head", "new_head"],
        deletion_copies=2,
        variant_cache=tmp_path / "v",
        progress=False,
    )
    assert {q.transform for q in queries} == {"softmax_head", "new_head", "node_deletion"}
    assert not errors and {q.transform for q in queries if q.derived} == {"new_head"}
    row = evaluate_coder(WLCoder(64, canonical=True), split, queries)
    assert set(row["per_transform"]) == {"softmax_head", "node_deletion"}
    for k in ("own_top1", "unique", "pairs_d0", "auc"):
        assert 0.0 <= row[k] <= 1.0, k
    # canonicalisation drops the appended Softmax: those copies find their architecture
    assert row["per_transform"]["softmax_head"]["own_top1"] == 1.0
    # a derived architecture is no copy: scored apart, by whether its source is nearest
    assert set(row["derived"]) == {"new_head"} and row["derived"]["new_head"]["queries"] == 2
    assert 0.0 <= row["derived"]["new_head"]["source_top1"] <= 1.0
    assert sum(row["hist_own"]) == len(queries) - 2


def test_protocol_c_figures_of_a_checkpoint_for_tuning(
    tiny_corpus: Path, tiny_checkpoint: Path
) -> None:
    from hnnframe.tune.hub_metrics import HubFigures

    figures = HubFigures(
        {
            "corpus_cache": str(tiny_corpus),
            "holdout": ["resnet", "convnext"],
            "transforms": [],
            "deletion_copies": 1,
        }
    )
    out = figures(tiny_checkpoint)
    assert set(out) >= {"hub/unique", "hub/own_top1_worst", "hub/auc", "hub/pairs_d0"}
    # family top-1 is undefined here (no held-out group has two members in this tiny corpus)
    assert math.isnan(out["hub/family_top1"])
    assert all(0.0 <= v <= 1.0 for k, v in out.items() if k != "hub/family_top1")


def test_reproduce_hub_writes_the_protocol_c_block(
    tiny_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The command end to end on the tiny corpus (convnext is a default held-out group): the
    # WL baselines only, one transformation; the block lands in results.md with its plot.
    docs = tmp_path / "docs"
    argv = [
        "reproduce",
        "hub",
        "--baselines-only",
        "--corpus-cache",
        str(tiny_corpus),
        "--variant-cache",
        str(tmp_path / "v"),
        "--docs",
        str(docs),
        "--out",
        str(tmp_path / "run"),
        "--bits",
        "32",
        "--transforms",
        "softmax_head",
        "--derived",
        "width_pruned",
        "--deletion-copies",
        "1",
    ]
    assert main(argv) == 0
    text = (docs / "results.md").read_text()
    assert "<!-- hub:begin -->" in text and "Protocol (c)" in text
    # the derived architectures of test_convnext and test_vit, in a table of their own
    assert "| coder | Q | width_pruned (2) |" in text and "width_pruned (2) | node" not in text
    assert (
        "| WL SimHash, raw graphs | 32 |" in text
        and "| WL SimHash, canonical graphs | 32 |" in text
    )
    assert (docs / "hub_distances.png").stat().st_size > 0
    # Cached evaluations are reused: a rerun evaluates nothing again and writes the same rows.
    evals = sorted((tmp_path / "run" / "eval").glob("*.json"))
    assert len(evals) == 2
    before = [p.stat().st_mtime_ns for p in evals]
    assert main(argv) == 0
    assert [p.stat().st_mtime_ns for p in evals] == before
    capsys.readouterr()
    assert main([*argv[:-4], "--derived", "dynamo"]) == 2
    assert "no derived architectures; valid: " in capsys.readouterr().err


def test_split_maps_aliases_and_refuses_unknown_groups(tiny_corpus: Path) -> None:
    entries = load_corpus(tiny_corpus)
    # deit is vision_transformer's twin: holding it out holds out the ViTs.
    split = split_corpus(entries, ["deit", "resnet"])
    assert {entries[i].group for i in split.test} == {"vision_transformer", "resnet"}
    with pytest.raises(ConfigError, match="not in the corpus"):
        split_corpus(entries, ["resnet", "no_such_family"])


def test_an_unreadable_record_is_exported_again(tiny_corpus: Path, tmp_path: Path) -> None:
    import shutil

    cache = tmp_path / "c"
    shutil.copytree(tiny_corpus, cache)
    (cache / "timm--test_vit.json").write_text("{not json")
    again = build_corpus([candidate_for(s) for s in SPECS], cache, jobs=1, progress=False)
    assert again["this_build"]["exported_now"] == 1
    assert again["summary"]["architectures"] == len(SPECS)
