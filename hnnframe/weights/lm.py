"""Small language models trained here, for the demo and the hub-repository bed (issue 18).

Tiny Llama, GPT-2 and BERT models (hidden 32, 2 layers, a vocabulary of the 96 printable
ASCII characters) built by transformers with seeded random weights, trained on the standard
library's Python source (text that ships with Python; nothing is downloaded): causal language
modelling, or masked language modelling for BERT. A base trains in seconds on a CPU.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ARCHS = ("llama", "gpt2", "bert")
VOCAB = 96
CONTEXT = 64


def tiny_model(
    arch: str,
    seed: int,
    layers: int = 2,
    hidden: int = 32,
    heads: int | None = None,
    kv_heads: int | None = None,
) -> Any:
    """A randomly initialised tiny model of ``arch`` with ``layers`` blocks (see the module
    docstring): width ``hidden`` (the MLP twice as wide), ``heads`` attention heads (default
    4 for Llama, 2 otherwise) and, for Llama, ``kv_heads`` key/value heads (default half the
    heads: grouped-query attention)."""
    import torch
    import transformers as T

    torch.manual_seed(seed)
    if arch == "llama":
        heads = heads or 4
        return T.LlamaForCausalLM(
            T.LlamaConfig(
                vocab_size=VOCAB,
                hidden_size=hidden,
                intermediate_size=2 * hidden,
                num_hidden_layers=layers,
                num_attention_heads=heads,
                num_key_value_heads=kv_heads or heads // 2,
                max_position_embeddings=CONTEXT,
            )
        )
    heads = heads or 2
    if arch == "gpt2":
        return T.GPT2LMHeadModel(
            T.GPT2Config(
                vocab_size=VOCAB, n_embd=hidden, n_layer=layers, n_head=heads, n_positions=CONTEXT
            )
        )
    if arch == "bert":
        return T.BertForMaskedLM(
            T.BertConfig(
                vocab_size=VOCAB,
                hidden_size=hidden,
                num_hidden_layers=layers,
                num_attention_heads=heads,
                intermediate_size=2 * hidden,
                max_position_embeddings=CONTEXT,
            )
        )
    raise ValueError(f"unknown tiny architecture {arch!r} (known: {', '.join(ARCHS)})")


def stdlib_text(part: int, chars: int = 400_000) -> list[int]:
    """Token ids (printable ASCII - 32) of the standard library's modules: ``part`` 0 and 1
    are disjoint halves (every other file), for a base and a fine-tune on other text."""
    lib = Path(os.__file__).parent
    files = sorted(lib.glob("*.py"))[part::2]
    text = "".join(f.read_text(errors="ignore") for f in files)[:chars]
    return [min(max(ord(c) - 32, 0), VOCAB - 1) for c in text]


def train(model: Any, ids: list[int], steps: int, seed: int, lr: float = 3e-3) -> Any:
    """``steps`` AdamW steps of batches of 16 windows of :data:`CONTEXT` tokens; masked LM
    (15% of the tokens replaced by id 0) for a model with a masked-LM head."""
    import torch

    masked = "MaskedLM" in type(model).__name__
    g = torch.Generator().manual_seed(seed)
    data = torch.tensor(ids)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        start = torch.randint(0, len(data) - CONTEXT - 1, (16,), generator=g)
        x = torch.stack([data[s : s + CONTEXT] for s in start])
        if masked:
            mask = torch.rand(x.shape, generator=g) < 0.15
            labels = torch.where(mask, x, torch.full_like(x, -100))
            out = model(input_ids=torch.where(mask, torch.zeros_like(x), x), labels=labels)
        else:
            out = model(input_ids=x, labels=x)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    return model.eval()
