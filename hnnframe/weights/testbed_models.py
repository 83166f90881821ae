"""The test bed's models and data: a CNN and an MLP on scikit-learn's bundled digits, and a
character-level transformer on text that ships with Python (the standard library's source).

No trained weights can be downloaded, so the weight tier's test bed trains its own (issue 12,
item 2). Each architecture has a full and a ``tiny`` size; the tiny one trains in well under a
second and is what the tests use. Training is deterministic for a seed (one thread, seeded
batches), so a rebuilt bed holds the same models.

Two data sets per task give "other data": digits are split by sample parity (A: even
indices, B: odd, with one-pixel shifts and noise for fine-tuning); text A is the source of
the first standard-library modules in name order, text B that of the last ones.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

ARCHS = ("mlp", "cnn", "transformer")
VOCAB = 128  # ASCII; other characters map to 0, so every text model has the same shapes


@dataclass(frozen=True)
class ArchSpec:
    """Sizes and training settings of one architecture of the bed."""

    name: str
    width: int
    depth: int
    epochs: int  # passes over the training data (transformer: steps / 10)
    lr: float
    context: int = 32


SPECS: dict[tuple[str, bool], ArchSpec] = {
    ("mlp", False): ArchSpec("mlp", 128, 2, 40, 3e-3),
    ("mlp", True): ArchSpec("mlp", 32, 1, 8, 1e-2),
    ("cnn", False): ArchSpec("cnn", 16, 2, 20, 3e-3),
    ("cnn", True): ArchSpec("cnn", 4, 2, 6, 1e-2),
    ("transformer", False): ArchSpec("transformer", 64, 2, 25, 3e-3),
    ("transformer", True): ArchSpec("transformer", 16, 1, 4, 1e-2, context=16),
}


class MLP(nn.Module):
    """Linear-ReLU layers on the 64 digit pixels, then a 10-way Linear."""

    def __init__(self, width: int, depth: int) -> None:
        super().__init__()
        dims = [64] + [width] * depth
        self.hidden = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:], strict=False)
        )
        self.out = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden:
            x = torch.relu(layer(x))
        return self.out(x)


class CNN(nn.Module):
    """Two Conv-BN-ReLU blocks on 1x8x8 digits, 2x2 max pool, then Linear-ReLU-Linear."""

    def __init__(self, width: int, depth: int = 2) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(2 * width)
        self.fc1 = nn.Linear(2 * width * 16, 4 * width)
        self.fc2 = nn.Linear(4 * width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        x = torch.flatten(nn.functional.max_pool2d(x, 2), 1)
        return self.fc2(torch.relu(self.fc1(x)))


class Block(nn.Module):
    """Pre-LayerNorm block: causal multi-head attention (separate q, k, v, o) and a GELU FFN."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(dim)
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))
        self.ln2 = nn.LayerNorm(dim)
        self.ff1 = nn.Linear(dim, 4 * dim)
        self.ff2 = nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.ln1(x)

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, d // self.heads).transpose(1, 2)

        q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))
        att = q @ k.transpose(-1, -2) / math.sqrt(d // self.heads)
        # A boolean mask: exported as a bool constant, never as a float tensor beside the weights
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        x = x + self.o((att @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.ff2(nn.functional.gelu(self.ff1(self.ln2(x))))


class CharTransformer(nn.Module):
    """A GPT-style character model: token and position embeddings, blocks, LayerNorm, head."""

    def __init__(self, width: int, depth: int, context: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(VOCAB, width)
        self.pos = nn.Parameter(torch.randn(context, width) * 0.02)
        self.blocks = nn.ModuleList(Block(width, 4) for _ in range(depth))
        self.lnf = nn.LayerNorm(width)
        self.head = nn.Linear(width, VOCAB)  # untied: one tensor per role in every format

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.emb(idx) + self.pos[: idx.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.head(self.lnf(x))


def build(arch: str, tiny: bool = False) -> nn.Module:
    """A freshly initialised model of ``arch`` (seed the torch generator first)."""
    s = SPECS[(arch, tiny)]
    if arch == "mlp":
        return MLP(s.width, s.depth)
    if arch == "cnn":
        return CNN(s.width, s.depth)
    return CharTransformer(s.width, s.depth, s.context)


# ---- data -----------------------------------------------------------------------------------


def digits(part: str, augment: bool = False, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Digits ``part`` "A" (even samples) or "B" (odd), pixels scaled to [0, 1]; ``augment``
    shifts each image by up to one pixel and adds Gaussian noise (sd 0.05)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x, y = d.data.astype(np.float32) / 16.0, d.target.astype(np.int64)
    x, y = (x[0::2], y[0::2]) if part == "A" else (x[1::2], y[1::2])
    if augment:
        rng = np.random.default_rng(seed)
        img = x.reshape(-1, 8, 8)
        shifts = rng.integers(-1, 2, size=(len(img), 2))
        img = np.stack(
            [np.roll(im, tuple(s), axis=(0, 1)) for im, s in zip(img, shifts, strict=False)]
        )
        x = (img.reshape(-1, 64) + rng.normal(0, 0.05, img.reshape(-1, 64).shape)).astype(
            np.float32
        )
    return x, y


def stdlib_text(part: str, chars: int = 120_000) -> np.ndarray:
    """``chars`` ASCII codes of the standard library's source: part "A" from the first modules
    in name order, "B" from the last."""
    files = sorted(Path(os.__file__).parent.glob("*.py"))
    if part == "B":
        files = files[::-1]
    out: list[bytes] = []
    n = 0
    for f in files:
        data = f.read_bytes()
        out.append(data)
        n += len(data)
        if n >= chars:
            break
    arr = np.frombuffer(b"".join(out)[:chars], dtype=np.uint8).astype(np.int64)
    return np.where(arr < VOCAB, arr, 0)


def inputs(arch: str, part: str, tiny: bool, augment: bool = False, seed: int = 0) -> Any:
    """The training data of ``arch``: ``(x, y)`` arrays for digits, a code array for text."""
    if arch == "transformer":
        return stdlib_text(part, 20_000 if tiny else 120_000)
    x, y = digits(part, augment, seed)
    return (x.reshape(-1, 1, 8, 8) if arch == "cnn" else x), y


def probe(arch: str, tiny: bool = False) -> torch.Tensor:
    """A fixed input batch, for checks that a copy computes the same function."""
    if arch == "transformer":
        text = stdlib_text("A", 4096)
        ctx = SPECS[(arch, tiny)].context
        return torch.from_numpy(text[: 4 * ctx].reshape(4, ctx).copy())
    x, _ = digits("B")
    x = torch.from_numpy(x[:16])
    return x.reshape(-1, 1, 8, 8) if arch == "cnn" else x


# ---- training -------------------------------------------------------------------------------


def _batches(arch: str, data: Any, tiny: bool, epochs: int, rng: np.random.Generator):
    """Yield ``(x, y)`` batches: shuffled passes over digits, random windows of text."""
    if arch == "transformer":
        ctx = SPECS[(arch, tiny)].context
        for _ in range(epochs * 10):
            starts = rng.integers(0, len(data) - ctx - 1, size=32)
            win = np.stack([data[s : s + ctx + 1] for s in starts])
            yield torch.from_numpy(win[:, :-1]), torch.from_numpy(win[:, 1:])
        return
    x, y = data
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(x), 64):
            j = order[i : i + 64]
            yield torch.from_numpy(x[j]), torch.from_numpy(y[j])


def train(
    model: nn.Module,
    arch: str,
    data: Any,
    seed: int,
    tiny: bool,
    epochs: int | None = None,
    lr: float | None = None,
    step: Callable[[], None] | None = None,
) -> float:
    """Adam on cross-entropy; returns the last batch's loss. The model ends in eval mode."""
    spec = SPECS[(arch, tiny)]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr or spec.lr)
    model.train()
    loss = torch.tensor(0.0)
    for xb, yb in _batches(arch, data, tiny, epochs or spec.epochs, rng):
        out = model(xb)
        loss = nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), yb.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step:
            step()
    model.eval()
    return float(loss.detach())


def accuracy(model: nn.Module, arch: str, data: Any) -> float:
    """Top-1 accuracy on ``data`` (next-character accuracy for text, first 4096 positions)."""
    with torch.no_grad():
        if arch == "transformer":
            ctx = model.pos.shape[0]
            n = min(len(data) - 1, 4096) // ctx * ctx
            x = torch.from_numpy(data[:n].reshape(-1, ctx).copy())
            y = torch.from_numpy(data[1 : n + 1].reshape(-1, ctx).copy())
            return float((model(x).argmax(-1) == y).float().mean())
        x, y = data
        return float((model(torch.from_numpy(x)).argmax(-1) == torch.from_numpy(y)).float().mean())
