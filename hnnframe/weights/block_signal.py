"""The block match: two models share a hidden-axis Gram block (:meth:`hnnframe.weights.code.
WeightCoder.blocks`) within the shipped block threshold.

The weight code sums every block into one SimHash, so a copy that changed most of its
tensors (a LoRA merged into every matrix, a long fine-tune, a dropped layer) drifts as far as
the nearest independently trained model, even where some block is still its base's bit for
bit: the embeddings under a LoRA, the residual axis of a permuted MLP. This signal compares
the blocks one by one and reports the nearest pair of blocks of one name. Over a hidden axis
(a basis that is arbitrary at initialisation) two independent models' block codes differ in
about half their bits, so a small distance is a shared ancestry, not a shared architecture or
shared data (docs/weights.md, "Block codes").

Its value is ``(sizes, {block name: code})``; ``sizes`` (the hidden axis sizes, as text) is
the column the index looks up for candidates, so a model is compared with those of the same
hidden widths, whatever their vocabulary, heads or depth.
"""

from __future__ import annotations

import json
from typing import Any

from hnnframe.codes import hamming
from hnnframe.errors import ConfigError
from hnnframe.evidence import EVIDENCE, Context, Evidence, Signal, Subject, Tier
from hnnframe.weights.threshold import load_threshold

BLOCK_MATCH = "block_match"


def hidden_sizes(blocks: dict[str, Any]) -> str:
    """The axis sizes the blocks are over, sorted, as text (``"32,64"``)."""
    sizes = set()
    for name in blocks:
        shape, axis = name.split("/")
        dims = shape.split("x")
        sizes.update(dims[:2] if axis == "square" else [dims[int(axis)]])
    return ",".join(sorted(sizes, key=int))


def nearest_block(a: dict[str, bytes], b: dict[str, bytes]) -> tuple[int, str] | None:
    """``(distance, block name)`` of the nearest pair of same-named blocks; ``None`` when the
    models share no block name."""
    common = sorted(set(a) & set(b))
    return min(((hamming(a[n], b[n]), n) for n in common), default=None)


def decode_blocks(blocks: dict[str, str]) -> dict[str, bytes]:
    """Block codes as stored (``block name -> hex``) back to bytes."""
    return {n: bytes.fromhex(h) for n, h in blocks.items()}


def block_distance(a: Any, b: Any) -> int | None:
    """The nearest shared block's distance between two weight fingerprints (``None`` when
    they share no block)."""
    near = nearest_block(*(decode_blocks(getattr(w, "blocks", {})) for w in (a, b)))
    return None if near is None else near[0]


def shipped_block_threshold(bits: int) -> int | None:
    """The shipped block threshold for ``bits``-bit weight codes (``None`` when none was
    measured)."""
    try:
        value = load_threshold(bits).get("block_threshold")
    except ConfigError:
        return None
    return None if value is None else int(value)


@EVIDENCE.register(BLOCK_MATCH)
class BlockMatch(Signal):
    """The nearest shared hidden-axis block within the block threshold."""

    tier = Tier.WEIGHT_MATCH
    columns = {"sizes": "text", "blocks": "text"}
    lookup = "sizes"

    def extract(self, subject: Subject) -> Any:
        blocks = getattr(subject.weights, "blocks", None)
        if not blocks:
            return None
        codes = decode_blocks(blocks)
        return hidden_sizes(codes), codes

    def compare(self, a: Any, b: Any, ctx: Context) -> Evidence | None:
        near = nearest_block(a[1], b[1])
        if near is None:
            return None
        dist, name = near
        bits = len(next(iter(a[1].values()))) * 16  # a block code is half the weight code
        # the caller's (match and the index check pass the one they loaded); the file is
        # read only when none was given
        limit = ctx.limits[self.name] if self.name in ctx.limits else shipped_block_threshold(bits)
        if limit is None:
            return None
        ev = self.hit if dist <= limit else self.miss
        return ev(distance=dist, block=name, threshold=limit)

    def to_row(self, value: Any) -> tuple[Any, ...]:
        sizes, codes = value
        return sizes, json.dumps({n: c.hex() for n, c in codes.items()}, sort_keys=True)

    def from_row(self, row: Any) -> Any:
        return row[0], decode_blocks(json.loads(row[1]))

    def line(self, ev: Evidence) -> str:
        said = str(self.tier) if ev.hit else "no"
        block = ev.detail.get("block")
        return f"{self.name}: {said}, block {block} at distance {ev.distance}"
