"""Tests of hnnframe.ged: bipartite GED against exact GED, the pairwise runner and its cache."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

import hnnframe.ged.pairwise as pw
from hnnframe.data.augment import delete_nodes
from hnnframe.errors import ConfigError, RegistryError
from hnnframe.ged import (
    GED_METHODS,
    BipartiteGED,
    ExactGED,
    GEDCache,
    GEDMethod,
    build_ged_method,
    ged,
    induced_cost,
    lower_bound,
    pairwise_ged,
)
from hnnframe.ged.bipartite import rb_cost_matrix
from hnnframe.ged.prepared import prepare_graph
from hnnframe.ir import OpGraph, OpNode


def random_graph(rng: np.random.Generator, n: int, p: float = 0.35) -> OpGraph:
    ops = rng.choice(["Conv", "Relu", "Add"], size=n)
    edges = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < p]
    return OpGraph([OpNode(str(o)) for o in ops], edges)


def dnn_like(rng: np.random.Generator, n: int) -> OpGraph:
    """A chain of few distinct ops with residual skips, like a merged ResNet."""
    ops = rng.choice(["ConvBnRelu", "ConvBn", "Add", "MaxPool"], size=n, p=[0.5, 0.2, 0.2, 0.1])
    edges = [(i, i + 1) for i in range(n - 1)]
    edges += [(i, i + 3) for i in range(0, n - 3, 4)]
    return OpGraph([OpNode(str(o), name=f"n{i}") for i, o in enumerate(ops)], edges)


@pytest.fixture(scope="module")
def small_pairs() -> list[tuple[OpGraph, OpGraph]]:
    rng = np.random.default_rng(0)
    return [
        (random_graph(rng, int(rng.integers(5, 7))), random_graph(rng, int(rng.integers(5, 7))))
        for _ in range(10)
    ]


def test_registry_and_specs() -> None:
    assert {"bipartite", "exact"} <= set(GED_METHODS.names())
    m = build_ged_method({"type": "bipartite", "align": False, "refine": 0})
    assert isinstance(m, BipartiteGED) and m.refine == 0
    assert m.cache_key() != BipartiteGED().cache_key()
    with pytest.raises(RegistryError, match="valid: bipartite"):
        build_ged_method("nope")
    with pytest.raises(ConfigError):
        BipartiteGED(refine=-1)
    with pytest.raises(ConfigError, match="tiny graphs"):
        ExactGED(max_nodes=4)(dnn_like(np.random.default_rng(0), 5), OpGraph([OpNode("A")]))


def test_bipartite_is_an_upper_bound_close_to_exact(small_pairs) -> None:
    exact, rb, bip = ExactGED(), BipartiteGED(align=False, refine=0), BipartiteGED()
    ratios = []
    for g1, g2 in small_pairs:
        e = exact(g1, g2)
        assert lower_bound(g1, g2) <= e <= bip(g1, g2) <= rb(g1, g2)
        ratios.append(bip(g1, g2) / max(e, 1.0))
    assert np.mean(ratios) < 1.25


def test_identity_symmetry_and_costs(small_pairs) -> None:
    bip = BipartiteGED()
    for g1, g2 in small_pairs:
        assert bip(g1, g1) == 0.0 and bip(g1, g1.copy()) == 0.0
        assert bip(g1, g2) == bip(g2, g1)  # the smaller graph always indexes the rows
    a = OpGraph([OpNode("Conv"), OpNode("Relu")], [(0, 1)])
    b = OpGraph([OpNode("Conv"), OpNode("Sigmoid")], [(0, 1)])
    c = OpGraph([OpNode("Conv"), OpNode("Relu")], [(1, 0)])  # undirected: same as a
    assert ged(a, b) == ged(a, b, "exact") == 1.0
    assert ged(a, c) == 0.0
    assert ged(a, OpGraph()) == 3.0  # two node deletions and one edge deletion


def test_node_deletion_bound() -> None:
    rng = np.random.default_rng(1)
    g = dnn_like(rng, 80)
    for seed in range(3):
        h = delete_nodes(g, 0.1, seed)
        kept = [int(node.name[1:]) for node in h.nodes]
        dropped = set(range(len(g))) - set(kept)
        bound = len(dropped) + sum(1 for s, d in g.edges if s in dropped or d in dropped)
        mapping = {old: new for new, old in enumerate(kept)}
        assert induced_cost(g, h, mapping) == bound == lower_bound(g, h)  # so GED == bound
        assert 0 < ged(g, h) <= bound
        assert ged(g, h, BipartiteGED(align=False, refine=0)) >= bound


def test_reduced_assignment_has_the_full_optimum(small_pairs) -> None:
    for g1, g2 in small_pairs:
        a, b = prepare_graph(g1), prepare_graph(g2)
        if a.n > b.n:
            a, b = b, a
        full = rb_cost_matrix(a, b)
        r, c = linear_sum_assignment(full)
        S = (a.ops[:, None] != b.ops[None, :]) + np.abs(a.deg[:, None] - b.deg[None, :])
        R = S - (1 + b.deg)[None, :]
        rr, cc = linear_sum_assignment(R)
        assert full[r, c].sum() == pytest.approx(R[rr, cc].sum() + (1 + b.deg).sum())
        # and both forms give an upper bound
        assert BipartiteGED(0, 0, reduced=False)(g1, g2) >= ExactGED()(g1, g2)


def test_induced_cost_checks_the_map() -> None:
    g = OpGraph([OpNode("A"), OpNode("B")], [(0, 1)])
    assert induced_cost(g, g, [0, 1]) == 0
    assert induced_cost(g, g, [1, 0]) == 2  # two op substitutions, the edge is kept
    assert induced_cost(g, g, [None, 1]) == 4  # delete, insert, edge out and in
    with pytest.raises(ConfigError):
        induced_cost(g, g, [0, 0])


def test_pairwise_matrix_pairs_and_duplicates(tmp_path) -> None:
    rng = np.random.default_rng(2)
    gs = [dnn_like(rng, int(n)) for n in (12, 15, 15, 20)]
    gs.append(gs[1].copy())  # same content as graph 1
    D = pairwise_ged(gs, jobs=1, progress=False)
    assert D.shape == (5, 5) and np.all(D == D.T) and np.all(np.diag(D) == 0)
    assert D[0, 2] == ged(gs[0], gs[2]) and D[1, 4] == 0.0
    v = pairwise_ged(gs, pairs=[(2, 0), (3, 3), (1, 4)], progress=False)
    assert v.tolist() == [D[0, 2], 0.0, 0.0]
    with pytest.raises(ConfigError):
        pairwise_ged(gs, pairs=[(0, 9)], progress=False)


class _Broken(GEDMethod):
    name = "bipartite"  # same key as BipartiteGED() would have: the cache must answer
    version = BipartiteGED.version

    def config(self):
        return BipartiteGED().config()

    def __call__(self, g1, g2):
        raise AssertionError("should have come from the cache")


def test_pairwise_cache_and_parallel(tmp_path, monkeypatch) -> None:
    rng = np.random.default_rng(3)
    gs = [dnn_like(rng, int(n)) for n in rng.integers(8, 30, size=6)]
    path = tmp_path / "ged.sqlite"
    serial = pairwise_ged(gs, cache=path, jobs=1, progress=False)
    assert pairwise_ged(gs, method=_Broken(), cache=path, progress=False).tolist() == (
        serial.tolist()
    )
    with GEDCache(path) as c:
        assert c.methods() == {BipartiteGED().cache_key(): 15}
    # other settings are other keys; spawn workers give the same values as this process
    monkeypatch.setattr(pw, "PARALLEL_MIN_PAIRS", 1)
    par = pairwise_ged(gs, method={"type": "bipartite"}, jobs=2, chunk_size=4, progress=False)
    assert np.array_equal(par, serial)


def test_cache_survives_a_killed_writer_and_a_second_process(tmp_path) -> None:
    path = tmp_path / "c.sqlite"
    code = textwrap.dedent(
        f"""
        import os, signal
        from hnnframe.ged.cache import GEDCache
        c = GEDCache({str(path)!r})
        c.put_many("m", [(("a", "b"), 1.0), (("c", "b"), 2.0)])
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    with GEDCache(path) as mine:  # open while the other process writes
        proc = subprocess.run([sys.executable, "-c", code], timeout=60)
        assert proc.returncode != 0
        assert mine.get_many("m") == {("a", "b"): 1.0, ("b", "c"): 2.0}
        mine.put_many("m", [(("b", "a"), 5.0)])  # already there: ignored
    with GEDCache(tmp_path) as again:  # a directory means dir/ged.sqlite: a new, empty file
        assert len(again) == 0
    with GEDCache(path) as again:
        assert again.get_many("m", [("a", "b")]) == {("a", "b"): 1.0}


class _FailsLate(BipartiteGED):
    calls = 0

    def distance(self, a, b):
        type(self).calls += 1
        if type(self).calls > 4:
            raise RuntimeError("killed")
        return super().distance(a, b)


def test_pairwise_keeps_committed_batches_when_interrupted(tmp_path) -> None:
    rng = np.random.default_rng(4)
    gs = [dnn_like(rng, int(n)) for n in (6, 7, 8, 9)]
    path = tmp_path / "ged.sqlite"
    with pytest.raises(RuntimeError, match="killed"):
        pairwise_ged(gs, method=_FailsLate(), cache=path, jobs=1, chunk_size=2, progress=False)
    with GEDCache(path) as c:
        assert sum(c.methods().values()) == 4  # two batches of two were committed
    full = pairwise_ged(gs, method=BipartiteGED(), cache=path, jobs=1, progress=False)
    assert np.array_equal(full, pairwise_ged(gs, progress=False))
