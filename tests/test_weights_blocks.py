"""Block codes and the block match (docs/weights.md, "Block codes"): a copy that keeps one
hidden-axis block of its base is found however far the rest moved; independently drawn
weights share no block; the data's axes (vocabulary, classes) take no part."""

from __future__ import annotations

import numpy as np
import torch

from hnnframe.codes import hamming
from hnnframe.weights.block_signal import hidden_sizes, nearest_block
from hnnframe.weights.code import WeightCoder
from hnnframe.weights.fingerprint import fingerprint, match


def _model(seed: int, vocab: int = 100) -> dict[str, np.ndarray]:
    """A small language-model-shaped set of tensors: embeddings over a vocabulary, and
    three layers of MLP matrices over a hidden width of 32."""
    rng = np.random.default_rng(seed)
    out = {"embed": rng.standard_normal((vocab, 32)).astype(np.float32)}
    for i in range(3):
        out[f"up{i}"] = rng.standard_normal((64, 32)).astype(np.float32)
        out[f"down{i}"] = rng.standard_normal((32, 64)).astype(np.float32)
    return out


def _blocks(tensors: dict[str, np.ndarray]) -> dict[str, bytes]:
    coder = WeightCoder(256)
    for t in tensors.values():
        coder.add(t)
    return coder.blocks()


def test_blocks_are_over_hidden_axes_only() -> None:
    # 32 is in tensors of two shapes: the hidden width. 100 (the vocabulary) and 64 (one
    # shape only) are not, so the axes over them make no block.
    blocks = _blocks(_model(0))
    assert sorted(blocks) == ["100x32/1", "64x32/1"]
    assert all(len(c) == 16 for c in blocks.values())  # Q/2 bits each
    assert hidden_sizes(blocks) == "32"
    # a width under 16 units makes no block: too few Gram entries to tell models apart
    assert _blocks({"a": np.ones((40, 8), np.float32), "b": np.ones((8, 8), np.float32)}) == {}


def test_a_kept_block_is_found_when_everything_else_changed() -> None:
    base = _model(0)
    # a "LoRA-merged" copy: every MLP matrix replaced, the embeddings left as they were
    copy = {**_model(1), "embed": base["embed"]}
    other = _model(2)
    b, c, o = _blocks(base), _blocks(copy), _blocks(other)
    assert nearest_block(b, c) == (0, "100x32/1")
    far = nearest_block(b, o)
    assert far is not None and far[0] > 40  # unrelated Grams: about half of 128 bits
    # the vocabulary extended: the embedding block changes its name, the others still meet
    wider = {**base, "embed": np.vstack([base["embed"], _model(3)["embed"][:16]])}
    assert "116x32/1" in _blocks(wider) and nearest_block(b, _blocks(wider))[1] == "64x32/1"


def test_match_names_a_weight_match_from_one_block(tmp_path) -> None:
    base, other = _model(0), _model(2)
    copy = {**_model(1), "embed": base["embed"] * 1.01}
    paths = {}
    for name, tensors in (("base", base), ("copy", copy), ("other", other)):
        paths[name] = tmp_path / f"{name}.pt"
        torch.save({k: torch.from_numpy(v) for k, v in tensors.items()}, paths[name])
    fa, fc, fo = (fingerprint(paths[n]) for n in ("base", "copy", "other"))
    assert hamming(fa.code, fc.code) > 40  # the whole code moved as far as another model's
    v = match(fa, fc, threshold=10, block_threshold=16)
    assert str(v.verdict) == "weight match" and v.block_distance is not None
    assert v.block_distance <= 2
    assert str(match(fa, fo, threshold=10, block_threshold=16).verdict) == "none"
    # the fingerprint keeps the blocks through its JSON form
    again = type(fa).from_dict(fa.to_dict())
    assert again.blocks == fa.blocks and match(again, fc, 10, 16).block_distance == v.block_distance
