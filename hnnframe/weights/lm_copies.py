"""The copies people make of language models (issue 21), made here from a tiny base of
:mod:`hnnframe.weights.lm`: LoRA merged, vocabulary extended, one layer dropped, a
sequence-classification head on the encoder, a linear merge of two fine-tunes, MLP units
and attention heads permuted, and the residual stream permuted (the function checked
unchanged).

Every builder takes a trained transformers model and returns a new one; the base is never
changed. They follow what the tools do: LoRA as in Hu et al. 2021 (``W + (alpha / r) B A``,
``B`` zero at the start, only ``A`` and ``B`` trained, then merged as ``peft``'s
``merge_and_unload`` does); ``resize_token_embeddings`` for a vocabulary; a layer dropped by
renumbering the remaining blocks' tensors (as layer-pruning scripts such as ShortGPT do);
``AutoModelForSequenceClassification`` loaded from a base checkpoint (the encoder kept, a new
head); a linear merge as mergekit's ``linear`` method.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from hnnframe.errors import HnnError
from hnnframe.weights import lora
from hnnframe.weights.lm import CONTEXT, train

#: A block's tensor names: ``model.layers.3.``, ``transformer.h.3.``, ``encoder.layer.3.``.
_BLOCK = re.compile(r"(\.(?:layers|h|layer)\.)(\d+)(\.)")
_LAYER_FIELD = {"llama": "num_hidden_layers", "gpt2": "n_layer", "bert": "num_hidden_layers"}


def arch_of(model: Any) -> str:
    """``llama``, ``gpt2`` or ``bert`` from the model's config."""
    t = str(model.config.model_type)
    if t not in _LAYER_FIELD:
        raise HnnError(f"no copy builders for model_type {t!r}")
    return t


def lora_merged(
    model: Any,
    ids: list[int],
    steps: int,
    seed: int,
    rank: int = 4,
    alpha: float = 8.0,
    lr: float = 1e-2,
) -> Any:
    """A LoRA delta of ``rank`` on every matrix of the blocks, trained on ``ids`` with the
    base frozen, then merged into the weights."""
    m = copy.deepcopy(model)
    loras = lora.attach(m, lambda name, _: bool(_BLOCK.search(name + ".")), rank, alpha, seed)
    train(m, ids, steps, seed, lr=lr)  # AdamW sees only the LoRA matrices' gradients
    return lora.detach(m, loras, merge=True)


#: The modules PEFT adapts by default in each family (its ``target_modules`` mapping).
ADAPTER_TARGETS = {"llama": ("q_proj", "v_proj"), "gpt2": ("c_attn",), "bert": ("query", "value")}


def trained_adapter(
    model: Any,
    ids: list[int],
    steps: int,
    seed: int,
    out: Path,
    rank: int = 4,
    alpha: float = 8.0,
    lr: float = 2e-3,
) -> Path:
    """A PEFT LoRA adapter of ``model`` trained on ``ids`` (the base frozen, never merged),
    saved at ``out`` (:func:`hnnframe.weights.lora.save_peft`)."""
    m = copy.deepcopy(model)
    names = ADAPTER_TARGETS[arch_of(m)]
    loras = lora.attach(
        m, lambda name, _: name.rsplit(".", 1)[-1] in names, rank, alpha, seed, peft_layout=True
    )
    train(m, ids, steps, seed, lr=lr)
    task = "FEATURE_EXTRACTION" if "MaskedLM" in type(m).__name__ else "CAUSAL_LM"
    return lora.save_peft(out, loras, rank, alpha, task)


def merge_tokens(ids: list[int], vocab: int, new: int) -> list[int]:
    """``ids`` re-tokenised with ``new`` added tokens, ids ``vocab``..: the most frequent
    pairs of tokens, each replaced left to right (one round of byte-pair encoding)."""
    pairs = [p for p, _ in Counter(pairwise(ids)).most_common(new)]
    code = {p: vocab + i for i, p in enumerate(pairs)}
    out, i = [], 0
    while i < len(ids):
        t = code.get((ids[i], ids[i + 1])) if i + 1 < len(ids) else None
        out.append(ids[i] if t is None else t)
        i += 1 if t is None else 2
    return out


def vocab_extended(model: Any, ids: list[int], new: int, steps: int, seed: int) -> Any:
    """``new`` tokens added (``resize_token_embeddings``) and the model trained on text
    that uses them."""
    m = copy.deepcopy(model)
    vocab = int(m.config.vocab_size)
    m.resize_token_embeddings(vocab + new)
    return train(m, merge_tokens(ids, vocab, new), steps, seed, lr=1e-3)


def layer_dropped(model: Any, layer: int, ids: list[int], steps: int, seed: int) -> Any:
    """Block ``layer`` removed (the later blocks renumbered), then trained on ``ids``."""
    arch = arch_of(model)
    field = _LAYER_FIELD[arch]
    n = int(getattr(model.config, field))
    if not 0 <= layer < n or n < 2:
        raise HnnError(f"cannot drop layer {layer} of {n}")
    config = copy.deepcopy(model.config)
    setattr(config, field, n - 1)
    if getattr(config, "layer_types", None):
        config.layer_types = [t for i, t in enumerate(config.layer_types) if i != layer]
    m = type(model)(config)
    state = {}
    for name, t in model.state_dict().items():
        hit = _BLOCK.search(name)
        if hit and int(hit.group(2)) == layer:
            continue
        if hit and int(hit.group(2)) > layer:
            name = _BLOCK.sub(lambda h: f"{h.group(1)}{int(h.group(2)) - 1}{h.group(3)}", name, 1)
        state[name] = t
    m.load_state_dict(state, strict=True)
    return train(m, ids, steps, seed, lr=1e-3)


def classifier(model: Any, parts: list[list[int]], steps: int, seed: int) -> Any:
    """The base's encoder (or decoder) under a new sequence-classification head, trained to
    tell which of ``parts`` a window of text comes from."""
    import torch
    import transformers as T

    config = copy.deepcopy(model.config)
    config.num_labels = len(parts)
    config.pad_token_id = 0
    config.architectures = None
    cls = {
        "llama": T.LlamaForSequenceClassification,
        "gpt2": T.GPT2ForSequenceClassification,
        "bert": T.BertForSequenceClassification,
    }[arch_of(model)]
    torch.manual_seed(seed)
    m = cls(config)
    missing = m.load_state_dict(model.state_dict(), strict=False).missing_keys
    if any(not re.search(r"score|classifier|pooler", k) for k in missing):
        raise HnnError(f"the classifier did not take the base's body: missing {missing[:3]}")
    g = torch.Generator().manual_seed(seed)
    data = [torch.tensor(p) for p in parts]
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    m.train()
    for _ in range(steps):
        label = torch.randint(0, len(parts), (16,), generator=g)
        starts = [
            int(torch.randint(0, len(data[y]) - CONTEXT, (1,), generator=g)) for y in label.tolist()
        ]
        x = torch.stack(
            [data[y][s : s + CONTEXT] for y, s in zip(label.tolist(), starts, strict=True)]
        )
        loss = m(input_ids=x, labels=label).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return m.eval()


def linear_merge(a: Any, b: Any, weight: float = 0.5) -> Any:
    """``weight * a + (1 - weight) * b`` tensor by tensor (mergekit's ``linear``)."""
    m = copy.deepcopy(a)
    sb = b.state_dict()
    m.load_state_dict(
        {
            k: (weight * v + (1 - weight) * sb[k]) if v.is_floating_point() else v
            for k, v in a.state_dict().items()
        }
    )
    return m


def _heads(order: np.ndarray, size: int) -> np.ndarray:
    """Indices of the rows of whole heads of ``size`` rows, in head ``order``."""
    return (order[:, None] * size + np.arange(size)[None, :]).reshape(-1)


def _block_perms(arch: str, config: Any, r: np.random.Generator) -> dict[str, tuple]:
    """For one block: ``{tensor suffix: (index, axis)}`` permuting its MLP units and its
    attention heads (for grouped-query attention, the key/value groups and the heads within
    each group, so every query head keeps its key and value)."""
    if arch == "llama":
        heads, kv = config.num_attention_heads, config.num_key_value_heads
        size, rep = config.hidden_size // heads, heads // kv
        groups = r.permutation(kv)
        q_order = np.concatenate([g * rep + r.permutation(rep) for g in groups])
        q, k = _heads(q_order, size), _heads(groups, size)
        mlp = r.permutation(config.intermediate_size)
        return {
            "self_attn.q_proj.weight": (q, 0),
            "self_attn.k_proj.weight": (k, 0),
            "self_attn.v_proj.weight": (k, 0),
            "self_attn.o_proj.weight": (q, 1),
            "mlp.gate_proj.weight": (mlp, 0),
            "mlp.up_proj.weight": (mlp, 0),
            "mlp.down_proj.weight": (mlp, 1),
        }
    if arch == "gpt2":  # Conv1D weights are [in, out]
        h, heads = config.n_embd, config.n_head
        a = _heads(r.permutation(heads), h // heads)
        qkv = np.concatenate([a, a + h, a + 2 * h])
        mlp = r.permutation(config.n_inner or 4 * h)
        return {
            "attn.c_attn.weight": (qkv, 1),
            "attn.c_attn.bias": (qkv, 0),
            "attn.c_proj.weight": (a, 0),
            "mlp.c_fc.weight": (mlp, 1),
            "mlp.c_fc.bias": (mlp, 0),
            "mlp.c_proj.weight": (mlp, 0),
        }
    a = _heads(
        r.permutation(config.num_attention_heads), config.hidden_size // config.num_attention_heads
    )
    mlp = r.permutation(config.intermediate_size)
    out = {
        f"attention.self.{n}.{p}": (a, 0)
        for n in ("query", "key", "value")
        for p in ("weight", "bias")
    }
    return {
        **out,
        "attention.output.dense.weight": (a, 1),
        "intermediate.dense.weight": (mlp, 0),
        "intermediate.dense.bias": (mlp, 0),
        "output.dense.weight": (mlp, 1),
    }


def permuted(model: Any, seed: int, probe: Any = None, tol: float = 1e-4) -> Any:
    """MLP units and attention heads of every block permuted (another seed per block); the
    outputs on ``probe`` (token ids; default a seeded batch) are checked unchanged.

    Raises:
        HnnError: the permuted model computes another function (larger than ``tol``).
    """
    import torch

    arch = arch_of(model)
    r = np.random.default_rng(seed)
    state = {}
    perms: dict[str, dict[str, tuple]] = {}
    for name, t in model.state_dict().items():
        hit = _BLOCK.search(name)
        if hit is None:
            state[name] = t
            continue
        block = name[: hit.end()]
        if block not in perms:
            perms[block] = _block_perms(arch, model.config, r)
        idx = perms[block].get(name[hit.end() :])
        state[name] = t if idx is None else t.index_select(idx[1], torch.as_tensor(idx[0]))
    return _same_function(model, state, seed, probe, tol, "permuted")


#: Per architecture, the tensors that read or write the residual stream, by name suffix, and
#: the axes of theirs that are the stream (Conv1D weights of GPT-2 are ``[in, out]``).
_RESIDUAL: dict[str, list[tuple[str, tuple[int, ...]]]] = {
    "llama": [
        ("embed_tokens.weight", (1,)),
        ("lm_head.weight", (1,)),
        (r"(q|k|v)_proj\.weight", (1,)),
        ("o_proj.weight", (0,)),
        (r"(gate|up)_proj\.weight", (1,)),
        ("down_proj.weight", (0,)),
        (r"norm\.weight", (0,)),
    ],
    "gpt2": [
        (r"(wte|wpe)\.weight", (1,)),
        ("lm_head.weight", (1,)),
        (r"ln_(1|2|f)\.(weight|bias)", (0,)),
        (r"(attn\.c_attn|mlp\.c_fc)\.weight", (0,)),
        (r"(attn|mlp)\.c_proj\.weight", (1,)),
        (r"(attn|mlp)\.c_proj\.bias", (0,)),
    ],
    "bert": [
        (r"embeddings\.\w+_embeddings\.weight", (1,)),
        (r"LayerNorm\.(weight|bias)", (0,)),
        (r"attention\.self\.(query|key|value)\.weight", (1,)),
        (r"(attention\.output|layer\.\d+\.output)\.dense\.(weight|bias)", (0,)),
        (r"intermediate\.dense\.weight", (1,)),
        (r"transform\.dense\.weight", (0, 1)),
        (r"transform\.dense\.bias", (0,)),
        (r"decoder\.weight", (1,)),
    ],
}


def residual_permuted(model: Any, seed: int, probe: Any = None, tol: float = 1e-4) -> Any:
    """The residual stream's dimensions permuted in every tensor that reads or writes it
    (embeddings, every block's input and output projections, every norm, the head): a
    function-preserving permutation that leaves no hidden axis of the base in place, since
    norms act per dimension (RMSNorm, LayerNorm) and every other operator of the stream is
    a sum. The outputs on ``probe`` are checked unchanged.

    Raises:
        HnnError: the permuted model computes another function (larger than ``tol``).
    """
    import torch

    arch = arch_of(model)
    order = torch.as_tensor(np.random.default_rng(seed).permutation(model.config.hidden_size))
    rules = [(re.compile(rf"{pat}$"), axes) for pat, axes in _RESIDUAL[arch]]
    state = {}
    for name, t in model.state_dict().items():
        axes = next((ax for pat, ax in rules if pat.search(name)), ())
        for axis in axes:
            t = t.index_select(axis, order)
        state[name] = t
    return _same_function(model, state, seed, probe, tol, "residual-permuted")


def _same_function(
    model: Any, state: dict[str, Any], seed: int, probe: Any, tol: float, what: str
) -> Any:
    """A copy of ``model`` holding ``state``, checked to compute the same logits on ``probe``
    (default a seeded batch of token ids)."""
    import torch

    m = copy.deepcopy(model)
    m.load_state_dict(state)
    if probe is None:
        g = torch.Generator().manual_seed(seed)
        probe = torch.randint(0, int(model.config.vocab_size), (2, CONTEXT), generator=g)
    with torch.no_grad():
        diff = float(
            (model.eval()(input_ids=probe).logits - m.eval()(input_ids=probe).logits).abs().max()
        )
    if diff > tol:
        arch = arch_of(model)
        raise HnnError(f"the {what} {arch} computes another function (max difference {diff:g})")
    return m
