"""LoRA trained here by hand (Hu et al., "LoRA: Low-Rank Adaptation of Large Language
Models", ICLR 2022): ``W + (alpha / r) B A`` with ``A`` random and ``B`` zero at the start,
only ``A`` and ``B`` trained. Used for the merged-LoRA copies of the language-model bed
(:mod:`.lm_copies`) and for trained PEFT adapters (:func:`save_peft`), so that ``peft`` is
not needed to make them.

PEFT's layout: ``lora_A`` is ``[r, in]`` and ``lora_B`` ``[out, r]`` in ``nn.Linear``'s
orientation; GPT-2's ``Conv1D`` stores its weight ``[in, out]``, so its delta is
``(B A)^T`` (PEFT's ``fan_in_fan_out``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hnnframe.files import atomic_write


def _lora_class() -> type:
    import torch

    class Lora(torch.nn.Module):
        """The parametrization ``w -> w + (alpha / r) B A`` (transposed for ``Conv1D``)."""

        def __init__(
            self,
            shape: tuple[int, int],
            rank: int,
            alpha: float,
            g: torch.Generator,
            conv1d: bool | None,
        ) -> None:
            super().__init__()
            out, n = (shape[1], shape[0]) if conv1d else shape
            a = torch.empty(rank, n)
            if conv1d is None:  # the merged-LoRA copies of the bed: Gaussian, std 1/sqrt(n)
                a = torch.randn(rank, n, generator=g) / n**0.5
            else:  # PEFT's default: kaiming_uniform_(a=sqrt(5)), uniform on +-1/sqrt(n)
                torch.nn.init.kaiming_uniform_(a, a=5**0.5, generator=g)
            self.a = torch.nn.Parameter(a)
            self.b = torch.nn.Parameter(torch.zeros(out, rank))
            self.scale, self.conv1d = alpha / rank, bool(conv1d)

        def forward(self, w: torch.Tensor) -> torch.Tensor:
            d = self.scale * (self.b @ self.a)
            return w + (d.T if self.conv1d else d)

    return Lora


def attach(
    model: Any,
    select: Callable[[str, Any], bool],
    rank: int,
    alpha: float,
    seed: int,
    peft_layout: bool = False,
) -> dict[str, Any]:
    """Freeze ``model`` and put a LoRA on the weight of every module ``select(name, module)``
    keeps; returns them by module path. ``peft_layout``: as PEFT makes them (``A`` of a
    ``Conv1D`` weight on its input axis, PEFT's initialisation); otherwise ``A`` on the
    stored weight's second axis, Gaussian."""
    import torch
    from torch.nn.utils import parametrize

    lora = _lora_class()
    for p in model.parameters():
        p.requires_grad_(False)
    g = torch.Generator().manual_seed(seed)
    out = {}
    chosen = [
        (name, mod)
        for name, mod in model.named_modules()  # before any is parametrized
        if isinstance(getattr(mod, "weight", None), torch.Tensor)
        and mod.weight.ndim == 2
        and select(name, mod)
    ]
    for name, mod in chosen:
        conv1d = type(mod).__name__ == "Conv1D" if peft_layout else None
        out[name] = lora(tuple(mod.weight.shape), rank, alpha, g, conv1d)
        parametrize.register_parametrization(mod, "weight", out[name])
    return out


def detach(model: Any, loras: dict[str, Any], merge: bool) -> Any:
    """Take the LoRAs off ``model``: merged into the weights, or dropped; trainable again."""
    from torch.nn.utils import parametrize

    for name in loras:
        parametrize.remove_parametrizations(model.get_submodule(name), "weight", merge)
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def save_peft(out: Path, loras: dict[str, Any], rank: int, alpha: float, task: str) -> Path:
    """``loras`` as a PEFT adapter directory: ``adapter_config.json`` and
    ``adapter_model.safetensors`` with ``base_model.model.<path>.lora_A/B.weight``."""
    from safetensors.torch import save

    tensors = {}
    for name, lo in loras.items():
        tensors[f"base_model.model.{name}.lora_A.weight"] = lo.a.detach().contiguous()
        tensors[f"base_model.model.{name}.lora_B.weight"] = lo.b.detach().contiguous()
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "adapter_model.safetensors", save(tensors))
    targets = sorted({n.rsplit(".", 1)[-1] for n in loras})
    config = {
        "peft_type": "LORA",
        "r": rank,
        "lora_alpha": alpha,
        "target_modules": targets,
        "fan_in_fan_out": any(lo.conv1d for lo in loras.values()),
        "base_model_name_or_path": "base",
        "task_type": task,
    }
    atomic_write(out / "adapter_config.json", json.dumps(config, indent=1).encode())
    return out
