"""Exact tensor digests: the same tensors give the same digests across names, order, file
formats and a transposed re-export; any change to a value changes them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from hnnframe.weights import copies
from hnnframe.weights.digests import (
    TensorDigest,
    digest,
    informative,
    set_digest,
    shared_fraction,
    tensor_digests,
)
from hnnframe.weights.fingerprint import fingerprint, match


def test_canonical_orientation_and_squeeze() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((6, 4)).astype(np.float32)
    assert digest(w) == digest(w.T) == digest(w.T.copy()) == digest(w[None])
    sq = rng.standard_normal((5, 5)).astype(np.float32)
    assert digest(sq) == digest(sq.T.copy())
    assert digest(w.astype(np.float64)) == digest(w)
    changed = w.copy()
    changed[2, 1] = np.nextafter(changed[2, 1], np.inf)
    assert digest(changed) != digest(w)
    assert digest(w.astype(np.float16)) != digest(w)  # an fp16 copy is no exact copy


def test_uninformative_tensors_are_left_out() -> None:
    assert not informative(np.ones(8, np.float32))
    assert not informative(np.zeros((3, 3), np.float32))
    assert not informative(np.array([1.5], np.float32))
    assert not informative(np.arange(4))  # integers: shape constants, not weights
    assert informative(np.arange(4, dtype=np.float32))
    assert len(tensor_digests([np.ones(4, np.float32), np.arange(3, dtype=np.float32)])) == 1


def test_multiset_and_fractions() -> None:
    a = [TensorDigest("x", 100), TensorDigest("y", 10)]
    b = [TensorDigest("y", 10), TensorDigest("x", 100)]
    assert set_digest(a) == set_digest(b)
    assert shared_fraction(a, b) == (1.0, 1.0)
    sub = [TensorDigest("x", 100)]
    assert shared_fraction(sub, a) == (1.0, 100 / 110)
    assert shared_fraction(a, [TensorDigest("z", 5)]) == (0.0, 0.0)


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(12, 16), nn.Linear(16, 16)
        self.c = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c(torch.relu(self.b(torch.relu(self.a(x)))))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    torch.manual_seed(1)
    m = MLP().eval()
    d = tmp_path_factory.mktemp("digests")
    out = {
        k: d / f"{k}{ext}"
        for k, ext in (
            ("st", ".safetensors"),
            ("renamed", ".safetensors"),
            ("pt", ".pt"),
            ("onnx", ".onnx"),
            ("transposed", ".onnx"),
            ("other", ".safetensors"),
        )
    }
    state = m.state_dict()
    copies.save_safetensors(state, out["st"])
    copies.save_safetensors(state, out["renamed"], rename_seed=7)
    copies.save_state_dict(state, out["pt"])
    copies.export_onnx(m, torch.randn(2, 12), out["onnx"])
    copies.transposed_rewrite(out["onnx"], out["transposed"])
    torch.manual_seed(2)
    copies.save_safetensors(MLP().state_dict(), out["other"])
    return out


def test_exact_across_names_order_formats_and_transposition(files: dict[str, Path]) -> None:
    base = fingerprint(files["st"])
    for k in ("renamed", "pt", "onnx", "transposed"):
        fp = fingerprint(files[k])
        assert fp.sha256 != base.sha256
        assert fp.tensor_set == base.tensor_set, k
        v = match(base, fp, threshold=0)
        assert v.verdict == "exact tensors" and v.shared == 1.0, k
        assert v.distance == 0, k  # the code sees the same tensors too
    assert match(base, fingerprint(files["st"]), threshold=0).verdict == "exact file"
    other = match(base, fingerprint(files["other"]), threshold=0)
    assert other.verdict == "none" and other.shared == 0.0


def test_transposed_rewrite_really_transposes(files: dict[str, Path]) -> None:
    import onnx

    m = onnx.load(str(files["transposed"]))
    ops = [n.op_type for n in m.graph.node]
    assert "Gemm" not in ops and "MatMul" in ops
    shapes = {tuple(t.dims) for t in m.graph.initializer}
    assert (12, 16) in shapes  # a.weight [16, 12] stored as W^T
    assert all(t.name.startswith("W") for t in m.graph.initializer)
