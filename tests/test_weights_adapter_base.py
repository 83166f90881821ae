"""The lora_A alignment test of an adapter's base (hnnframe.weights.adapter_base) on
synthetic matrices: rows along a weight's input directions score high, random rows score
about N(0, 1), and a Conv1D weight is read in its stored [in, out] orientation."""

from __future__ import annotations

import numpy as np

from hnnframe.weights.adapter_base import BASE_Z, Alignment, alignment, likely_bases


def _weight(rng: np.random.Generator, out: int = 64, n: int = 96) -> np.ndarray:
    # a trained-looking weight: a few input directions carry most of its energy
    scale = np.exp(-np.arange(n) / 12.0)
    return (rng.standard_normal((out, n)) * scale) @ np.linalg.qr(rng.standard_normal((n, n)))[0]


def test_rows_along_the_weight_score_high_random_rows_do_not() -> None:
    rng = np.random.default_rng(0)
    ws = {f"layers.{i}.q_proj": _weight(rng) for i in range(4)}
    tensors = [(f"{k}.weight", w) for k, w in ws.items()]
    along = {
        k: rng.standard_normal((4, 64)) @ w + 0.5 * rng.standard_normal((4, 96))
        for k, w in ws.items()
    }
    aligned = alignment(along, tensors)
    assert aligned.modules == 4 and aligned.z > 3 * BASE_Z
    nulls = [alignment({k: rng.standard_normal((4, 96)) for k in ws}, tensors).z for _ in range(40)]
    assert max(abs(z) for z in nulls) < BASE_Z and abs(float(np.mean(nulls))) < 0.6


def test_conv1d_weights_are_read_transposed_and_unknown_modules_skipped() -> None:
    rng = np.random.default_rng(1)
    w = _weight(rng, 96, 96)  # square: the orientation cannot come from the shape
    a = {"h.0.attn.c_proj": rng.standard_normal((4, 96)) @ w}
    stored = [("h.0.attn.c_proj.weight", w.T.copy()), ("h.0.mlp.c_fc.weight", w)]
    assert alignment(a, stored, conv1d=True).z > BASE_Z
    assert alignment(a, stored, conv1d=False).z < BASE_Z
    assert alignment({"h.9.x": a["h.0.attn.c_proj"]}, stored).modules == 0


def test_likely_bases_order_and_fallback() -> None:
    z = {1: Alignment(0.3, 4), 2: Alignment(9.0, 4), 3: Alignment(6.0, 4)}
    assert likely_bases([1, 2, 3], z) == [2, 3]
    assert likely_bases([1, 4], z) == [1, 4]  # none over the line: every fit
