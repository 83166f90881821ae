"""The op-level reason two canonical graphs differ (hnnframe.canonical.diff), and the
aggregation per family and per reason of benchmarks/canonical_hub.py (its pure part,
benchmarks/canonical_report.py, loaded from its file)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from hnnframe.canonical.diff import WIRING, graph_difference, histogram_difference, reason_kind
from hnnframe.ir import OpGraph, OpNode

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def chain(*nodes: tuple[str, int, int]) -> OpGraph:
    return OpGraph(
        [OpNode(op, flops=f, params=p) for op, f, p in nodes],
        [(i, i + 1) for i in range(len(nodes) - 1)],
    )


def report_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("canonical_report", BENCH / "canonical_report.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("canonical_report", mod)
    spec.loader.exec_module(mod)
    return mod


def test_ops_differ() -> None:
    ref = chain(("Conv", 10, 5), ("Relu", 0, 0), ("Conv", 10, 5), ("Relu", 0, 0))
    copy = chain(("FusedConv", 10, 5), ("FusedConv", 10, 5))
    assert graph_difference(ref, copy) == "+FusedConv x2, -Conv x2, -Relu x2"
    assert reason_kind(graph_difference(ref, copy)) == "+FusedConv, -Conv, -Relu"


def test_sizes_differ() -> None:
    ref = chain(("Conv", 10, 5), ("Conv", 20, 5), ("Gemm", 4, 4))
    copy = chain(("Conv", 10, 5), ("Conv", 30, 5), ("Gemm", 4, 3))
    assert graph_difference(ref, copy) == "Conv sizes differ (1 node), Gemm sizes differ (1 node)"
    assert reason_kind("Conv sizes differ (3 nodes)") == "Conv sizes differ"


def test_wiring_and_equal() -> None:
    nodes = [OpNode("A"), OpNode("B"), OpNode("C")]
    ref = OpGraph(nodes, [(0, 1), (1, 2)])
    copy = OpGraph([OpNode("A"), OpNode("B"), OpNode("C")], [(0, 1), (0, 2)])
    assert graph_difference(ref, copy) == WIRING
    # The same graph with its nodes listed in another order is no difference.
    shuffled = OpGraph([OpNode("C"), OpNode("A"), OpNode("B")], [(1, 2), (2, 0)])
    assert graph_difference(ref, shuffled) == ""


def test_long_reason_is_cut() -> None:
    text = histogram_difference({}, {f"Op{k}": 1 for k in range(9)})
    assert text.endswith(", ... 3 more ops") and text.count("+") == 6


def test_family_shares_and_misses() -> None:
    rep = report_module()

    def vs(same_ref: bool, same_folded: bool, reason: str = "") -> dict[str, object]:
        return {
            "reference": {"bits": 0 if same_ref else 9, "same": same_ref, "reason": reason},
            "bn_folded": {"bits": 0, "same": same_folded, "reason": ""},
        }

    details = {
        "timm--a": {"vs": {"onnxsim": vs(True, True), "qdq": vs(False, True, "-Pad x1")}},
        "timm--b": {
            "vs": {
                "onnxsim": vs(False, False, "-Pad x3"),
                "qdq": {"reference": {"error": "failed"}, "bn_folded": {"error": "failed"}},
            }
        },
        "hf--c": {"vs": {"onnxsim": vs(True, True), "qdq": vs(True, True)}},
    }
    fams = {"timm--a": "timm.x", "timm--b": "timm.x", "hf--c": "hf.c"}
    shares = rep.family_shares(details, fams, ["onnxsim", "qdq"])
    assert list(shares) == ["timm.x", "hf.c"]  # lowest share first
    assert shares["timm.x"] == {
        "architectures": 2,
        "copies": 3,  # the failed copy is not counted
        "same": 1 / 3,
        "same_folded": 2 / 3,
        "misses": {"qdq": 1, "onnxsim": 1},
    }
    assert shares["hf.c"]["same"] == 1.0
    groups = rep.misses(details, ["onnxsim", "qdq"])
    assert [(g["kind"], g["count"]) for g in groups] == [("-Pad", 2)]
    assert {i["reason"] for i in groups[0]["items"]} == {"-Pad x1", "-Pad x3"}
