"""Retrieval metrics, the tie rule, the WL SimHash baseline, results blocks and `hnn eval`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_INPUT, TinyResNet

from hnnframe.baselines import WLSimHash, wl_histogram
from hnnframe.cli import main
from hnnframe.codes import hamming_matrix
from hnnframe.data.augment import delete_nodes
from hnnframe.evaluate import rank, retrieval_metrics
from hnnframe.pipeline import graph_of
from hnnframe.reproduce import write_block


def test_hamming_matrix() -> None:
    a = np.array([[0, 0, 1, 1], [1, 1, 1, 1]], dtype=np.uint8)
    b = np.array([[0, 0, 0, 0], [0, 0, 1, 1]], dtype=np.uint8)
    assert hamming_matrix(a, b).tolist() == [[2, 0], [4, 2]]


def test_ties_broken_by_embedding_then_index() -> None:
    q = np.zeros((1, 8), np.uint8)
    db = np.zeros((3, 8), np.uint8)  # all at Hamming distance 0
    order, _ = rank(q, db, np.zeros((1, 2)), np.array([[3.0, 0], [1.0, 0], [2.0, 0]]))
    assert order[0].tolist() == [1, 2, 0]
    order, _ = rank(q, db)
    assert order[0].tolist() == [0, 1, 2]


def test_metrics_by_hand() -> None:
    # one query of label 0; database labels [0, 1, 0, 1] at distances [0, 1, 3, 8]
    q = np.zeros((1, 8), np.uint8)
    db = np.zeros((4, 8), np.uint8)
    db[1, :1] = 1
    db[2, :3] = 1
    db[3, :] = 1
    r = retrieval_metrics(q, np.array([0]), db, np.array([0, 1, 0, 1]), k=2)
    assert r.precision == pytest.approx(0.5) and r.recall == pytest.approx(0.5)
    assert r.f1 == pytest.approx(0.5)
    assert r.map == pytest.approx((1 / 1 + 2 / 3) / 2)
    # radius 2 retrieves items 0 and 1: precision 1/2, recall 1/2
    assert r.precision_r2 == pytest.approx(0.5) and r.recall_r2 == pytest.approx(0.5)


def test_wl_simhash_is_deterministic_and_perceptual() -> None:
    x = torch.zeros(*TINY_INPUT)
    g = graph_of(TinyResNet(8, 3), example_input=x)
    other = graph_of(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, 4), torch.nn.Sigmoid()),
                     example_input=x)  # fmt: skip
    wl = WLSimHash(bits=64)
    codes = wl.codes([g, delete_nodes(g, 0.1, seed=1), other])["codes"]
    assert np.array_equal(
        codes, WLSimHash(bits=64).codes([g, delete_nodes(g, 0.1, seed=1), other])["codes"]
    )
    d = hamming_matrix(codes, codes)
    assert d[0, 1] < d[0, 2]
    assert sum(wl_histogram(g, 2).values()) == 3 * g.num_nodes


def test_write_block_replaces_only_its_block(tmp_path: Path) -> None:
    p = tmp_path / "results.md"
    write_block(p, "one", "first")
    write_block(p, "two", "second")
    write_block(p, "one", "first, again")
    text = p.read_text()
    assert "first, again" in text and "second" in text and text.count("<!-- one:begin -->") == 1
    assert text.index("first, again") < text.index("second")


def test_eval_cli_json(capsys: pytest.CaptureFixture[str], tiny_checkpoint: Path) -> None:
    assert (
        main(["eval", "--checkpoint", str(tiny_checkpoint), "--json", "data.holdout=[resnet_d3]"])
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert {(r["method"], r["protocol"]) for r in rows} == {
        ("hnn_net", "a"), ("hnn_net", "b"), ("wl_simhash", "a"), ("wl_simhash", "b"),
    }  # fmt: skip
    assert all(0.0 <= r["mAP"] <= 1.0 for r in rows)


def test_recipe_comparison_runs_and_table() -> None:
    from hnnframe.reproduce import RECIPE_CANDIDATES, recipe_runs, recipes_markdown

    runs = recipe_runs(5, seeds=(0, 1))
    assert len(runs) == len(RECIPE_CANDIDATES) * 2 * 2
    assert len({r.name for r in runs}) == len(runs)
    b = [r for r in runs if r.meta["protocol"] == "b"]
    assert all(any(o.startswith("data.holdout=") for o in r.overrides) for r in b)
    assert all("train.epochs=5" in r.overrides and "hash.bits=32" in r.overrides for r in runs)

    def result(run: object, f1r2: float, m: float) -> dict:
        metrics = {"f1@10": 0.6, "mAP": m, "f1@r2": f1r2}
        return {**run.meta, "run": run.name, "seconds": 60.0, "epochs": 5,  # type: ignore[attr-defined]
                "metrics": {"a": metrics, "b": metrics}, "wl": {"a": metrics, "b": metrics}}  # fmt: skip

    # Seed 0 good, seed 1 poor: the goal is judged on the mean, the range shows both.
    results = [result(r, 0.99 if r.meta["seed"] == 0 else 0.85, 0.95) for r in runs]
    text = recipes_markdown(results, "hnn reproduce recipes", 5)
    row = next(line for line in text.splitlines() if line.startswith("| HNN-Net (paper)"))
    assert "0.920 (0.850-0.990)" in row and row.endswith("| missed |")
    assert "WL SimHash" in text and "hnn reproduce recipes" in text


def test_wall_clock_line_only_claims_a_full_run() -> None:
    from hnnframe.reproduce import wall_clock_line

    assert "12.0 min" in wall_clock_line([{"run": "a"}, {"run": "b"}], 720)
    line = wall_clock_line([{"run": "a", "reused": True}, {"run": "b"}], 720)
    assert "1 of 2 runs were reused" in line and "min" not in line
