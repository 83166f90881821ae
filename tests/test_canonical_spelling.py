"""hnnframe/canonical/spelling.py beyond the zoo: constants of weightless ops are not
parameters (rotary tables folded by the dynamo exporter, a slice of GPT-2's position table
folded by onnxsim), on real exports of tiny transformers (tests/support/hub.py)."""

from __future__ import annotations

from support.hub import prepared, reference, same_after, variant

from hnnframe.canonical.spelling import WEIGHTED


def test_folded_tables_are_not_parameters() -> None:
    # The dynamo exporter folds Llama's cos/sin tables into initializers of the Muls that
    # apply them; the TorchScript exporter computes them from a buffer (Constant nodes).
    raw = variant("hf:llama:tiny", "dynamo")
    assert [n for n in raw.nodes if n.op == "Mul" and n.params > 2]
    assert same_after("hf:llama:tiny", "dynamo")
    # onnxsim folds the 128 positions GPT-2 reads out of its 1024-row table.
    assert same_after("hf:gpt2:tiny", "onnxsim")
    for spec in ("hf:llama:tiny", "hf:gpt2:tiny"):
        g = prepared(reference(spec))
        assert not [n for n in g.nodes if n.op not in WEIGHTED and n.params]
