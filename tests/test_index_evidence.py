"""A new evidence signal is one class plus its registration (issue 20): a toy signal defined
here, ``tensor_count`` (a digest of the number of weight tensors), is stored by the index on
SQLite and PostgreSQL in a table of its own, found by its exact look-up and shown by
``hnn index check`` in text and JSON, with no edit anywhere else. Also: the ordered
:class:`~hnnframe.evidence.Tier` and the fold over the signals."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.index import fake, run_cli

import hnnframe.index as hindex
from hnnframe.evidence import (
    CHECK_TIERS,
    EVIDENCE,
    WEIGHT_TIERS,
    Context,
    Evidence,
    Signal,
    Subject,
    Tier,
    signals,
    strongest,
)
from hnnframe.weights.fingerprint import fingerprint

pytest_plugins = ["support.index"]


class TensorCount(Signal):
    """Toy signal: the same number of weight tensors (weak structural evidence)."""

    tier = Tier.STRUCTURE_ONLY
    columns = {"digest": "text", "tensors": "int"}
    lookup = "digest"

    def extract(self, subject: Subject) -> Any:
        w = subject.weights
        if w is None:
            return None
        return (hashlib.sha256(str(w.tensors).encode()).hexdigest()[:16], w.tensors)

    def compare(self, a: Any, b: Any, ctx: Context) -> Evidence | None:
        same = a[0] == b[0]
        return (self.hit if same else self.miss)(distance=abs(a[1] - b[1]), tensors=b[1])

    def to_row(self, value: Any) -> tuple[Any, ...]:
        return tuple(value)

    def from_row(self, row: Any) -> Any:
        return (row[0], int(row[1]))


@pytest.fixture
def toy() -> Iterator[None]:
    EVIDENCE.register("tensor_count", TensorCount)
    yield
    EVIDENCE.unregister("tensor_count")


def test_tier_order_and_words() -> None:
    """One ordered vocabulary; the words shown and stored are the ones of before."""
    assert [str(t) for t in Tier] == [
        "exact file",
        "exact tensors",
        "weight match",
        "same architecture",
        "structure only",
        "none",
    ]
    assert Tier.EXACT_FILE < Tier.WEIGHT_MATCH < "same architecture" < Tier.NONE
    assert sorted([Tier.NONE, Tier.STRUCTURE_ONLY, Tier.EXACT_TENSORS])[0] is Tier.EXACT_TENSORS
    assert WEIGHT_TIERS == CHECK_TIERS[:3] and Tier.NONE not in CHECK_TIERS
    assert [t.exact for t in WEIGHT_TIERS] == [True, True, False]
    assert json.dumps({"tier": Tier.SAME_ARCHITECTURE}) == '{"tier": "same architecture"}'
    assert f"{Tier.WEIGHT_MATCH:<14}|" == "weight match  |"


def test_fold_takes_the_strongest_hit() -> None:
    """First match wins in strength order, whatever order the evidence comes in."""
    ev = [
        Evidence("b", Tier.STRUCTURE_ONLY, True),
        Evidence("a", Tier.EXACT_TENSORS, False),
        Evidence("c", Tier.WEIGHT_MATCH, True),
    ]
    assert strongest(ev) is Tier.WEIGHT_MATCH
    assert strongest(ev[1:2]) is Tier.NONE
    names = [s.name for s in signals()]
    assert names[:4] == ["exact_file", "exact_tensors", "block_match", "weight_match"]
    assert names.index("same_architecture") < names.index("structure_only")


def _rows(url: str) -> list[tuple[Any, ...]]:
    with hindex.open(url) as idx, idx._store.transaction(write=False) as cur:
        cur.execute("SELECT model_id, digest, tensors FROM hnn_signal_tensor_count ORDER BY 1")
        return [tuple(r) for r in cur.fetchall()]


def test_toy_signal_is_stored_found_and_shown(
    url: str, toy: None, weight_bed: dict[str, Path], tiny_checkpoint: Path, capsys: Any
) -> None:
    rc, _, err = run_cli(
        capsys, "add", "--db", url, "--checkpoint", tiny_checkpoint, weight_bed["exact_onnx"]
    )
    assert rc == 0, err
    rows = _rows(url)
    assert [(r[0], r[2]) for r in rows] == [(1, 4)]  # the MLP's 4 weight tensors, in its table
    with hindex.open(url) as idx:
        assert idx.verify() == []

    rc, out, err = run_cli(capsys, "check", "--db", url, weight_bed["fp16"], "--json")
    assert rc == 1, err
    [d] = json.loads(out)
    [c] = d["candidates"]
    assert d["tier"] == "weight match" and c["tier"] == "weight match"  # verdict unchanged
    ev = {e["signal"]: e for e in c["evidence"]}
    assert ev["tensor_count"] == {
        "signal": "tensor_count",
        "tier": "structure only",
        "hit": True,
        "distance": 0,
        "detail": {"tensors": 4},
    }
    # the built-in block match is reported beside it: the fp16 copy keeps every block
    assert ev["block_match"]["hit"] and ev["block_match"]["tier"] == "weight match"

    rc, out, err = run_cli(capsys, "check", "--db", url, weight_bed["fp16"])
    assert rc == 1, err
    assert "      tensor_count: structure only, distance 0" in out.splitlines()

    with hindex.open(url) as idx:
        idx.remove(["1"])
    assert _rows(url) == []  # its rows go with the record


def test_toy_signal_alone_makes_a_candidate(
    url: str, toy: None, weight_bed: dict[str, Path], weight_hasher: Any
) -> None:
    """A record that only the toy's look-up finds (another file, other weights, no digests,
    structural radius 0) is a candidate on the toy's tier, with the toy's evidence."""
    with hindex.open(url) as idx:
        idx.add_models([weight_bed["exact_onnx"]], weight_hasher, checkpoint="model.pt")
        [query] = fake(1, bits=idx.binding.bits, seed=9)
        v = idx.check(query, radius=0, weights=fingerprint(weight_bed["seed1"], 256))
    [c] = v.candidates
    assert c.tier is Tier.STRUCTURE_ONLY and not c.within_radius and not c.same_arch
    assert c.weights.compared and c.weights.verdict is Tier.NONE
    assert [(e.signal, e.hit) for e in c.evidence if e.signal == "tensor_count"] == [
        ("tensor_count", True)
    ]
    # another trained model: its blocks are compared, and none is near
    assert [e.hit for e in c.evidence if e.signal == "block_match"] == [False]


def test_index_without_the_signal_still_checks(
    url: str, weight_bed: dict[str, Path], tiny_checkpoint: Path, capsys: Any
) -> None:
    """An index written before a signal was registered has no table for it: a check with
    the signal registered finds no value and says nothing of it; the next add creates it."""
    rc, _, err = run_cli(
        capsys, "add", "--db", url, "--checkpoint", tiny_checkpoint, weight_bed["exact_onnx"]
    )
    assert rc == 0, err
    EVIDENCE.register("tensor_count", TensorCount)
    try:
        rc, out, err = run_cli(capsys, "check", "--db", url, weight_bed["fp16"], "--json")
        assert out, err
        [c] = json.loads(out)[0]["candidates"]
        assert rc == 1 and c["tier"] == "weight match", err
        # the stored side has no value: nothing to compare
        assert "tensor_count" not in {e["signal"] for e in c.get("evidence", [])}
        rc, _, err = run_cli(capsys, "add", "--db", url, weight_bed["fp16"])
        assert rc == 0, err
        assert [r[2] for r in _rows(url)] == [4]  # only the record added since
    finally:
        EVIDENCE.unregister("tensor_count")


class TensorCountV1(TensorCount):
    """The toy as a first release had it: the digest only."""

    columns = {"digest": "text"}

    def to_row(self, value: Any) -> tuple[Any, ...]:
        return (value[0],)

    def from_row(self, row: Any) -> Any:
        return (row[0], 0)


def test_signal_table_migrates_to_new_columns(
    url: str, weight_bed: dict[str, Path], weight_hasher: Any
) -> None:
    """A signal that declares a column its table lacks gets it on the next write; rows
    written before keep their values, with NULL in the new column."""
    EVIDENCE.register("tensor_count", TensorCountV1)
    try:
        with hindex.open(url) as idx:
            idx.add_models([weight_bed["exact_onnx"]], weight_hasher, checkpoint="model.pt")
    finally:
        EVIDENCE.unregister("tensor_count")
    EVIDENCE.register("tensor_count", TensorCount)
    try:
        with hindex.open(url) as idx:
            idx.add_models([weight_bed["fp16"]], weight_hasher)
        rows = _rows(url)
        assert [r[2] for r in rows] == [None, 4] and rows[0][1] == rows[1][1]
    finally:
        EVIDENCE.unregister("tensor_count")
