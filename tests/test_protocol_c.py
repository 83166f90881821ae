"""hnnframe.protocol_c: the figures of protocol (c) on hand-made codes, and one run end to end
on a tiny corpus of real exports."""

from __future__ import annotations

import numpy as np
import pytest

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
        return {"name": name, "bits": bits, "own_top1_worst": v, "own_top1": v, "unique": v,
                "pairs_d0": d0, "family_top1": v, "auc": v}  # fmt: skip

    rows = [row("WL SimHash, raw graphs", 64, 0.5, 0.01),
            row("WL SimHash, canonical graphs", 64, 0.97, 0.001),
            row("r", 64, 0.96, 0.0001), row("r", 32, 1.0, 0.0)]  # fmt: skip
    lines = goal_table(rows, "r", 64)
    by = {ln.split(" | ")[0].lstrip("| "): ln.split(" | ") for ln in lines if ln.startswith("| ")}
    # 0.96 meets the 95% goal but loses to the canonical baseline's 0.97: not "beats both".
    assert by["unique codes"][5:7] == ["yes", "no |"]
    # pairs at d = 0 is lower-is-better: 0.01% beats 1% and 0.1%.
    assert by["pairs at d = 0"][5:7] == ["yes", "yes |"]
    assert goal_table(rows, "r", 128) == []  # no row at that Q
