"""Tiny transformers repositories saved as a hub receives them (issue 18): snapshot
directories of Llama, GPT-2 and BERT built by transformers with ``save_pretrained`` (one file,
shards, ``pytorch_model.bin``, fp16, bf16), an independently initialised model of each
config, and GGUF exports written with the real ``gguf`` package. Made once per session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hnnframe.weights.lm import tiny_model
from hnnframe.weights.lm_testbed import save_bin


@pytest.fixture(scope="session")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{arch}``, ``{arch}-shards``, ``{arch}-bin``, ``{arch}-fp16``, ``{arch}-bf16``,
    ``{arch}-other`` (another seed, same config) and ``{arch}-{F32,F16,Q8_0}.gguf``."""
    import torch

    from hnnframe.weights.gguf_export import export_gguf

    root = tmp_path_factory.mktemp("repos")
    out: dict[str, Path] = {}
    for arch in ("llama", "gpt2", "bert"):
        m = tiny_model(arch, 0)
        m.save_pretrained(root / arch)
        m.save_pretrained(root / f"{arch}-shards", max_shard_size="20KB")
        save_bin(m, root / f"{arch}-bin")
        m.to(torch.float16).save_pretrained(root / f"{arch}-fp16")
        m.to(torch.bfloat16).save_pretrained(root / f"{arch}-bf16")
        tiny_model(arch, 1).save_pretrained(root / f"{arch}-other")
        for name in ("", "-shards", "-bin", "-fp16", "-bf16", "-other"):
            out[f"{arch}{name}"] = root / f"{arch}{name}"
        for q in ("F32", "F16", "Q8_0"):
            out[f"{arch}-{q}"] = export_gguf(root / arch, root / f"{arch}-{q}.gguf", q)
    return out


#: Modules each tiny architecture's adapters target, and their (out, in) per layer.
LORA_TARGETS = {
    "llama": {"self_attn.q_proj": (32, 32), "self_attn.v_proj": (16, 32)},
    "gpt2": {"attn.c_attn": (96, 32), "mlp.c_fc": (128, 32)},
    "bert": {"attention.self.query": (32, 32), "attention.self.value": (32, 32)},
}
LAYER_PATHS = {
    "llama": "model.layers.{i}",
    "gpt2": "transformer.h.{i}",
    "bert": "bert.encoder.layer.{i}",
}


def write_adapter(
    out: Path,
    arch: str,
    *,
    rank: int = 4,
    seed: int = 0,
    layers: int = 2,
    base_name: str = "/home/someone/checkpoints/final",
    whole: dict[str, Any] | None = None,
) -> Path:
    """A LoRA adapter directory as PEFT saves it (adapter_config.json and
    adapter_model.safetensors with ``base_model.model.<path>.lora_A/B.weight``), with trained
    looking (random, nonzero) matrices; ``whole``: tensors saved whole (modules_to_save)."""
    import json

    import torch
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(seed)
    tensors = {}
    for i in range(layers):
        for mod, (o, n) in LORA_TARGETS[arch].items():
            key = f"base_model.model.{LAYER_PATHS[arch].format(i=i)}.{mod}"
            tensors[f"{key}.lora_A.weight"] = torch.randn(rank, n, generator=g)
            tensors[f"{key}.lora_B.weight"] = torch.randn(o, rank, generator=g) * 0.01
    for name, t in (whole or {}).items():
        tensors[f"base_model.model.{name}"] = t.detach().clone().contiguous()
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / "adapter_model.safetensors"))
    targets = sorted({m.rsplit(".", 1)[-1] for m in LORA_TARGETS[arch]})
    (out / "adapter_config.json").write_text(
        json.dumps(
            {
                "peft_type": "LORA",
                "r": rank,
                "lora_alpha": 2 * rank,
                "target_modules": targets,
                "base_model_name_or_path": base_name,
                "task_type": "CAUSAL_LM",
            }
        )
    )
    return out
