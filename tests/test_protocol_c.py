"""hnnframe.protocol_c: the figures of protocol (c) on hand-made codes, and one run end to end
on a tiny corpus of real exports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hnnframe.protocol_c.coders import GraphCoder
from hnnframe.protocol_c.metrics import (
    code_uniqueness,
    distance_histograms,
    family_top1,
    own_top1,
    verification_auc,
)


def codes(*rows: str) -> np.ndarray:
    return np.array([[int(c) for c in r] for r in rows], dtype=np.uint8)


def test_own_top1_counts_ties_as_their_expected_value() -> None:
    db = codes("0000", "0000", "1111", "1100")
    q = codes("0000", "1110", "1100", "1111")
    # query 0 ties entries 0 and 1 at d=0 (own is 0): 1/2; query 1 ties 2 and 3 at d=1 (own
    # 2): 1/2; query 2 (own 2) is nearest to 3 alone: 0; query 3 is entry 2 itself: 1.
    assert own_top1(q, [0, 2, 2, 2], db).tolist() == [0.5, 0.5, 0.0, 1.0]


def test_uniqueness_and_pair_shares() -> None:
    db = codes("0000", "0000", "0011", "1111")
    u = code_uniqueness(db)
    assert u["unique"] == 0.5 and u["pairs"] == 6
    assert u["pairs_d0"] == pytest.approx(1 / 6)
    assert u["pairs_d2"] == pytest.approx(4 / 6)  # (0,1) d0; (0,2), (1,2), (2,3) d2


def test_family_top1_excludes_itself_and_splits_ties() -> None:
    db = codes("0000", "0001", "0010", "1111")
    fam = ["a", "a", "b", "b"]
    # entry 0: nearest others at d=1 are 1 (a) and 2 (b): 1/2. Entry 3 (b): nearest is 1 (a)
    # and 2 (b) at d=2... d(3,1)=3, d(3,2)=3, d(3,0)=4 -> tie of 1 (a) and 2 (b): 1/2.
    assert family_top1(db, fam, [0, 3]).tolist() == [0.5, 0.5]


def test_verification_auc_by_hand() -> None:
    db = codes("0000", "1111", "0011")
    fam = ["a", "b", "c"]
    q = codes("0001")  # own = 0 at d=1; other families: 1 at d=3, 2 at d=1 (a tie)
    assert verification_auc(q, [0], db, fam) == pytest.approx((1 + 0.5) / 2)
    own, other = distance_histograms(q, [0], db)
    assert own.tolist() == [0, 1, 0, 0, 0] and other.tolist() == [0, 1, 0, 1, 0]


def test_perfect_and_collapsed_codes_bound_the_figures() -> None:
    rng = np.random.default_rng(0)
    db = rng.integers(0, 2, (20, 64), dtype=np.uint8)
    fam = [f"f{i // 2}" for i in range(20)]
    assert own_top1(db, list(range(20)), db).mean() == 1.0
    assert code_uniqueness(db)["unique"] == 1.0
    assert verification_auc(db, list(range(20)), db, fam) == 1.0
    one = np.zeros((20, 64), dtype=np.uint8)
    assert own_top1(one, list(range(20)), one).mean() == pytest.approx(1 / 20)
    assert code_uniqueness(one)["unique"] == 0.0
    assert verification_auc(one, list(range(20)), one, fam) == 0.5


def test_goal_table_compares_the_recipe_with_both_baselines_at_its_q() -> None:
    from hnnframe.protocol_c.report import goal_table

    def row(name: str, bits: int, v: float, d0: float) -> dict:
        return {
            "name": name,
            "bits": bits,
            "own_top1_worst": v,
            "own_top1": v,
            "unique": v,
            "pairs_d0": d0,
            "family_top1": v,
            "auc": v,
        }

    rows = [
        row("WL SimHash, raw graphs", 64, 0.5, 0.01),
        row("WL SimHash, canonical graphs", 64, 0.97, 0.001),
        row("r", 64, 0.96, 0.0001),
        row("r", 32, 1.0, 0.0),
    ]
    lines = goal_table(rows, "r", 64)
    by = {ln.split(" | ")[0].lstrip("| "): ln.split(" | ") for ln in lines if ln.startswith("| ")}
    # 0.96 meets the 95% goal but loses to the canonical baseline's 0.97: not "beats both".
    assert by["unique codes"][5:7] == ["yes", "no |"]
    # pairs at d = 0 is lower-is-better: 0.01% beats 1% and 0.1%.
    assert by["pairs at d = 0"][5:7] == ["yes", "yes |"]
    assert goal_table(rows, "r", 128) == []  # no row at that Q


def test_derived_architectures_have_a_table_of_their_own() -> None:
    from hnnframe.protocol_c.report import derived_lines

    old = {"name": "WL", "bits": 32, "per_transform": {}}  # an evaluation cached before them
    assert derived_lines([old], {}) == []
    row = {**old, "derived": {"layer_drop": {"source_top1": 0.5, "queries": 4}}}
    lines = derived_lines([row, old], {"per_kind": {"layer_drop": 4}, "errors": {"x": {"a": ""}}})
    assert "| coder | Q | layer_drop (4) |" in lines
    assert "| WL | 32 | 50.0% |" in lines and "| WL | 32 | - |" in lines
    assert lines[-1].endswith("x: 1")


class TableCoder(GraphCoder):
    """A coder whose codes are given: graph ``gi`` gets row ``i`` (no learning involved)."""

    def __init__(self, rows: np.ndarray) -> None:
        self.rows, self.bits, self.key = rows, rows.shape[1], "table"

    def __call__(self, graphs: list) -> np.ndarray:
        return self.rows[[int(g.name[1:]) for g in graphs]]


@pytest.mark.parametrize("bits", [6, 12, 64])
def test_retrieval_through_the_index_scores_as_the_distance_matrix(bits: int) -> None:
    # Few bits: many ties at the minimum distance, and codes that are not whole bytes.
    from hnnframe.ir import OpGraph
    from hnnframe.protocol_c import retrieval
    from hnnframe.upload import describe_uploads

    rng = np.random.default_rng(bits)
    rows = rng.integers(0, 2, (60, bits), dtype=np.uint8)
    coder = TableCoder(rows)
    graphs = [OpGraph(name=f"g{i}") for i in range(60)]
    db_up = describe_uploads(graphs[:40], coder)
    q_up = describe_uploads(graphs[40:], coder)
    q_arch = rng.integers(0, 40, 20).tolist()
    fam = [f"f{i % 7}" for i in range(40)]
    with retrieval.database_index(db_up, coder.fingerprint) as (idx, ids):
        assert len(idx) == 40 and [u.path for u in db_up][:2] == ["graph:g0", "graph:g1"]
        got = retrieval.own_top1(idx, ids, q_up, q_arch)
        fam_got = retrieval.family_top1(idx, ids, fam, list(range(40)))
        stored = retrieval.stored_codes(idx, ids, bits)
    assert got.tolist() == own_top1(rows[40:], q_arch, rows[:40]).tolist()
    assert fam_got.tolist() == family_top1(rows[:40], fam, list(range(40))).tolist()
    assert (stored == rows[:40]).all()
    if bits == 6:  # the case the test is for: ties split 1/k
        assert any(0 < s < 1 for s in got)
    # Twins (one canonical graph under two names): a tie between them is right.
    twins = [frozenset({i, i ^ 1}) for i in range(40)]
    with retrieval.database_index(db_up, coder.fingerprint) as (idx, ids):
        got2 = retrieval.own_top1(idx, ids, q_up, q_arch, twins)
    assert got2.tolist() == own_top1(rows[40:], q_arch, rows[:40], twins).tolist()
    assert (got2 >= got).all()


def test_a_tie_with_a_canonical_twin_counts_as_right() -> None:
    db = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=np.uint8)
    q = np.array([[0, 0, 0, 1], [1, 1, 1, 0]], dtype=np.uint8)
    assert own_top1(q, [0, 0], db).tolist() == [0.5, 0.0]
    twins = [frozenset({0, 1}), frozenset({0, 1}), frozenset({2})]
    assert own_top1(q, [0, 0], db, twins).tolist() == [1.0, 0.0]


def test_the_checkpoint_coder_gives_the_hashers_codes(
    tiny_checkpoint: Path, tiny_onnx_models: list[Path]
) -> None:
    # hnn demo codes its corpus slice through CheckpointCoder: the codes must be the ones the
    # hasher gives the same graphs, in one batch and one at a time.
    from hnnframe.hashing import Hasher
    from hnnframe.pipeline import graph_of
    from hnnframe.protocol_c import CheckpointCoder
    from hnnframe.upload import describe_uploads

    hasher = Hasher.from_checkpoint(tiny_checkpoint)
    graphs = [graph_of(str(p)) for p in tiny_onnx_models]
    want = hasher.hash_graphs([hasher.graph(g) for g in graphs])["codes"]
    coder = CheckpointCoder(hasher)
    assert (coder(graphs) == want).all()
    ups = describe_uploads(graphs, coder, names=[p.stem for p in tiny_onnx_models])
    assert [u.code for u in ups] == [r.code for r in hasher.hash_many(tiny_onnx_models)]
    assert coder.fingerprint == hasher.fingerprint


def test_canonical_twins_are_graphs_equal_after_the_robust_passes() -> None:
    from hnnframe.corpus.split import canonical_twins
    from hnnframe.ir import OpGraph, OpNode

    def net(name: str, layout: bool, width: int) -> OpGraph:
        nodes = [OpNode("Conv", "c", 100 * width, 10 * width, (1, width, 4, 4))]
        if layout:  # a Transpose is layout, not architecture (drop_transpose)
            nodes.append(OpNode("Transpose", "t", 0, 0, (1, 4, 4, width)))
        nodes.append(OpNode("Relu", "r", 16 * width, 0, (1, width, 4, 4)))
        edges = [(k, k + 1) for k in range(len(nodes) - 1)]
        return OpGraph(nodes, edges, name)

    twins = canonical_twins([net("tv", False, 8), net("timm", True, 8), net("wide", False, 16)])
    assert twins == [frozenset({0, 1}), frozenset({0, 1}), frozenset({2})]
