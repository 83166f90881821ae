"""Synthetic Llama-shaped snapshot directories for the weight benchmarks (issue 21, item 3).

:func:`llama_spec` gives the tensor names and shapes of a Llama model (TinyLlama's layout:
hidden 2048, intermediate 5632, 32 heads with 4 key-value heads, vocabulary 32000, untied
``lm_head``, as many layers as reach the asked size), :func:`write_snapshot` writes it as a
Hugging Face snapshot directory (``config.json``, ``model.safetensors.index.json`` and
shards) with seeded random values, tensor by tensor (never the model in memory).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

Spec = list[tuple[str, tuple[int, ...]]]


def llama_spec(
    params: float, hidden: int = 2048, vocab: int = 32000, heads: int = 32, kv: int = 4
) -> Spec:
    """Names and shapes of a Llama model of about ``params`` parameters (module docstring);
    the intermediate size is 2.75 x hidden rounded to 256, as TinyLlama's."""
    inter = -(-int(2.75 * hidden) // 256) * 256
    kv_dim = hidden // heads * kv
    per_layer = 2 * hidden * hidden + 2 * kv_dim * hidden + 3 * inter * hidden + 2 * hidden
    layers = max(1, round((params - 2 * vocab * hidden) / per_layer))
    out: Spec = [("model.embed_tokens.weight", (vocab, hidden))]
    for i in range(layers):
        p = f"model.layers.{i}."
        out += [
            (p + "self_attn.q_proj.weight", (hidden, hidden)),
            (p + "self_attn.k_proj.weight", (kv_dim, hidden)),
            (p + "self_attn.v_proj.weight", (kv_dim, hidden)),
            (p + "self_attn.o_proj.weight", (hidden, hidden)),
            (p + "mlp.gate_proj.weight", (inter, hidden)),
            (p + "mlp.up_proj.weight", (inter, hidden)),
            (p + "mlp.down_proj.weight", (hidden, inter)),
            (p + "input_layernorm.weight", (hidden,)),
            (p + "post_attention_layernorm.weight", (hidden,)),
        ]
    return out + [("model.norm.weight", (hidden,)), ("lm_head.weight", (vocab, hidden))]


def config(spec: Spec, heads: int = 32, kv: int = 4) -> dict:
    """The transformers ``LlamaConfig`` fields of a :func:`llama_spec` model."""
    vocab, hidden = spec[0][1]
    return {
        "model_type": "llama",
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": hidden,
        "intermediate_size": dict(spec)["model.layers.0.mlp.up_proj.weight"][0],
        "num_hidden_layers": sum(1 for n, _ in spec if n.endswith("q_proj.weight")),
        "num_attention_heads": heads,
        "num_key_value_heads": kv,
        "vocab_size": vocab,
        "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
    }


def _values(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> bytes:
    """Norm weights near 1, matrices N(0, 0.02), as ``dtype`` (BF16: float32 truncated)."""
    if len(shape) == 1:
        a = 1.0 + 0.1 * rng.standard_normal(shape, dtype=np.float32)
    else:
        a = rng.standard_normal(shape, dtype=np.float32)
        a *= 0.02
    if dtype == "BF16":
        return (a.view(np.uint32) >> 16).astype("<u2").tobytes()
    return a.astype("<f4").tobytes()


def write_snapshot(spec: Spec, out: Path, shards: int = 5, dtype: str = "BF16") -> Path:
    """``out`` as a snapshot directory of ``spec`` in ``shards`` safetensors files of about
    equal size, ``dtype`` F32 or BF16, seeded values (:func:`_values`)."""
    out.mkdir(parents=True, exist_ok=True)
    size = 2 if dtype == "BF16" else 4
    total = sum(int(np.prod(s)) for _, s in spec) * size
    groups: list[Spec] = [[] for _ in range(shards)]
    done = 0
    for name, shape in spec:
        groups[min(shards - 1, done * shards // total)].append((name, shape))
        done += int(np.prod(shape)) * size
    groups = [g for g in groups if g]
    rng = np.random.default_rng(0)
    weight_map = {}
    for k, group in enumerate(groups, 1):
        fname = f"model-{k:05d}-of-{len(groups):05d}.safetensors"
        header, offset = {}, 0
        for name, shape in group:
            n = int(np.prod(shape)) * size
            header[name] = {
                "dtype": dtype,
                "shape": list(shape),
                "data_offsets": [offset, offset + n],
            }
            offset += n
            weight_map[name] = fname
        raw = json.dumps(header).encode()
        raw += b" " * (-len(raw) % 8)
        with open(out / fname, "wb") as f:
            f.write(len(raw).to_bytes(8, "little") + raw)
            for _name, shape in group:
                f.write(_values(rng, shape, dtype))
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (out / "model.safetensors.index.json").write_text(json.dumps(index))
    (out / "config.json").write_text(json.dumps(config(spec)))
    return out
