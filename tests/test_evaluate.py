"""Retrieval metrics, the tie rule, the WL SimHash baseline and `hnn eval`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from support.models import TINY_INPUT, TinyResNet

from hnnframe.baselines import WLSimHash, wl_histogram
from hnnframe.cli import main
from hnnframe.codes import hamming_matrix
from hnnframe.data.augment import delete_nodes
from hnnframe.evaluate import rank, retrieval_metrics
from hnnframe.pipeline import graph_of


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
    other = graph_of(
        torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, 4), torch.nn.Sigmoid()),
        example_input=x,
    )
    wl = WLSimHash(bits=64)
    codes = wl.codes([g, delete_nodes(g, 0.1, seed=1), other])["codes"]
    assert np.array_equal(
        codes, WLSimHash(bits=64).codes([g, delete_nodes(g, 0.1, seed=1), other])["codes"]
    )
    d = hamming_matrix(codes, codes)
    assert d[0, 1] < d[0, 2]
    assert sum(wl_histogram(g, 2).values()) == 3 * g.num_nodes


def test_eval_cli_json(capsys: pytest.CaptureFixture[str], tiny_checkpoint: Path) -> None:
    assert (
        main(["eval", "--checkpoint", str(tiny_checkpoint), "--json", "data.holdout=[resnet_d3]"])
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert {(r["method"], r["protocol"]) for r in rows} == {
        ("hnn_net", "a"),
        ("hnn_net", "b"),
        ("wl_simhash", "a"),
        ("wl_simhash", "b"),
    }
    assert all(0.0 <= r["mAP"] <= 1.0 for r in rows)
