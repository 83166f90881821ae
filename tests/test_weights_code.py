"""The weight code on synthetic tensors: what it is invariant to, by construction."""

from __future__ import annotations

import numpy as np
import pytest

from hnnframe.codes import hamming, unpack_code
from hnnframe.errors import ConfigError
from hnnframe.weights.code import WeightCoder, check_weight_bits, weight_code


def _layers(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal((48, 20)).astype(np.float32),
        rng.standard_normal((48, 48)).astype(np.float32),
        rng.standard_normal((10, 48)).astype(np.float32),
        rng.standard_normal((16, 3, 3, 3)).astype(np.float32),
    ]


def test_bits_rule() -> None:
    assert check_weight_bits(64) == 64
    for bad in (0, 8, 40, 100, "64", True):
        with pytest.raises(ConfigError):
            check_weight_bits(bad)
    assert len(weight_code(_layers(0), 128)) == 16


def test_invariant_to_order_transposition_scale_and_duplicates() -> None:
    layers = _layers(0)
    code = weight_code(layers)
    reordered = [layers[2].T.copy(), layers[3], layers[1].T.copy(), layers[0]]
    assert weight_code(reordered) == code
    assert weight_code([2.5 * t for t in layers]) == code
    assert weight_code([t.astype(np.float64) for t in layers]) == code


def test_cloud_half_is_exactly_permutation_invariant() -> None:
    w1, w2, w3, conv = _layers(0)
    rng = np.random.default_rng(5)
    p, q = rng.permutation(48), rng.permutation(48)
    # a function-preserving permutation of both hidden layers of w1 -> w2 -> w3
    permuted = [w1[p], w2[q][:, p], w3[:, q], conv[rng.permutation(16)]]
    a, b = weight_code([w1, w2, w3, conv], 256), weight_code(permuted, 256)
    half = 128
    ua, ub = unpack_code(a, 256), unpack_code(b, 256)
    assert (ua[:half] == ub[:half]).all()
    assert hamming(a, b) < hamming(a, weight_code(_layers(1), 256))


def test_small_perturbations_keep_the_code_near_other_seeds_far() -> None:
    layers = _layers(0)
    rng = np.random.default_rng(3)
    noisy = [t + 0.05 * rng.standard_normal(t.shape).astype(np.float32) for t in layers]
    pruned = [np.where(np.abs(t) > np.quantile(np.abs(t), 0.3), t, 0) for t in layers]
    code = weight_code(layers)
    near = max(hamming(code, weight_code(noisy)), hamming(code, weight_code(pruned)))
    far = min(hamming(code, weight_code(_layers(s))) for s in (1, 2, 3))
    assert near < far


def test_vectors_and_constants_do_not_take_part() -> None:
    coder = WeightCoder(64)
    assert not coder.add(np.arange(10, dtype=np.float32))  # 1-D: biases, norms
    assert not coder.add(np.zeros((4, 4), np.float32))
    assert coder.add(np.ones((4, 1, 6), np.float32) * np.arange(6, dtype=np.float32))
    assert coder.tensors == 1


def test_an_overflowing_constant_cannot_blank_a_half() -> None:
    # The dynamo exporter stores an attention mask filled with float32's largest value; its
    # square overflows. Before the fix one such tensor set every bit of the Gram half to 0.
    layers = _layers(0)
    mask = np.triu(np.full((16, 16), np.finfo(np.float32).max, np.float32), 1)
    code, with_mask = weight_code(layers, 256), weight_code([*layers, mask], 256)
    assert unpack_code(with_mask, 256)[128:].any()
    assert hamming(code, with_mask) < hamming(code, weight_code(_layers(1), 256)) // 2


def test_codes_without_tensors_never_make_a_weight_match(tmp_path) -> None:
    # Two unrelated models whose only informative tensors are vectors (biases): their codes
    # are all zero bits and equal, which says nothing about the weights.
    import torch

    from hnnframe.weights.fingerprint import fingerprint, match

    paths = []
    for seed in (0, 1):
        g = torch.Generator().manual_seed(seed)
        p = tmp_path / f"b{seed}.pt"
        torch.save(
            {"a.bias": torch.randn(32, generator=g), "b.bias": torch.randn(16, generator=g)}, p
        )
        paths.append(p)
    a, b = (fingerprint(p) for p in paths)
    assert not any(a.code) and a.code == b.code
    assert match(a, b, threshold=10).verdict == "none"
    assert match(a, fingerprint(paths[0]), threshold=10).verdict == "exact file"
