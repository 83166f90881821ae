"""PEFT adapters: which base architecture an adapter fits, read from its tensors alone.

A LoRA adapter directory holds ``adapter_config.json`` (``peft_type``, ``r``,
``target_modules``, ``base_model_name_or_path``) and ``adapter_model.safetensors`` with, per
adapted module, ``base_model.model.<module path>.lora_A.weight`` of shape ``[r, in]`` and
``lora_B.weight`` of ``[out, r]`` (/work/shared/DESIGN.md, "Facts about what a hub
receives"). ``base_model_name_or_path`` is never used: it is often a local path, and a
stranger can write anything there. What the adapter says of its base is:

* the module paths (``model.layers.3.self_attn.q_proj``): the architecture's naming, and how
  many layers it has at least;
* each module's ``[out, in]``: the widths of the base's projections.

:func:`fits` applies that to a transformers config: the config's model, built on the meta
device (no weights), must have a parameter at every adapted path whose shape is ``[out, in]``
(or ``[in, out]``: GPT-2's ``Conv1D``, which PEFT adapts with ``fan_in_fan_out``). Tensors the
adapter saves whole (``modules_to_save``, say an embedding) are kept as digests, so a caller can
compare them with the base's exact tensors. The ``lora_A`` matrices are kept too: which of several
models of one config a trained adapter was trained on is in them (:mod:`.adapter_base`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hnnframe.errors import ModelLoadError
from hnnframe.files import PathLike
from hnnframe.frontends.hf import build_model
from hnnframe.repo import adapter_files, read_json
from hnnframe.weights.digests import digest, informative
from hnnframe.weights.readers import iter_tensors

#: Module names -> the family that spells its projections so (transformers' naming).
FAMILIES: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "llama-family (Llama, Mistral, Qwen2)",
        frozenset({"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}),
    ),
    ("gpt2", frozenset({"c_attn", "c_proj", "c_fc"})),
    ("bert-family (BERT, RoBERTa)", frozenset({"query", "key", "value", "dense"})),
)
_LORA = re.compile(r"^(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$")


@dataclass
class Adapter:
    """What a PEFT adapter says of its base (see the module docstring)."""

    path: str
    peft_type: str
    rank: int
    modules: dict[str, tuple[int, int]]  # module path -> (out, in)
    #: digests (:func:`~hnnframe.weights.digests.digest`) of the informative tensors it saves
    #: whole (``modules_to_save``), kept instead of the tensors: one may be an embedding
    whole: list[str] = field(default_factory=list, repr=False)
    #: module path -> its ``lora_A`` ``[r, in]`` (float32)
    lora_a: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def targets(self) -> list[str]:
        return sorted({m.rsplit(".", 1)[-1] for m in self.modules})

    @property
    def layers(self) -> int:
        """The base's layer count at least: one more than the highest adapted layer index."""
        found = [int(n) for m in self.modules for n in re.findall(r"\.(\d+)\.", f".{m}.")]
        return max(found) + 1 if found else 0

    @property
    def hidden(self) -> int:
        """The most common input width of the adapted modules (the model's width)."""
        return Counter(i for _, i in self.modules.values()).most_common(1)[0][0]

    @property
    def family(self) -> str:
        names = set(self.targets)
        best = max(FAMILIES, key=lambda f: len(names & f[1]))
        return best[0] if names & best[1] else "unknown family (" + ", ".join(sorted(names)) + ")"

    def describe(self) -> str:
        return (
            f"a {self.peft_type} adapter (r={self.rank}) for a {self.family} model of width "
            f"{self.hidden} and at least {self.layers} layers; adapts " + ", ".join(self.targets)
        )


def read_adapter(path: PathLike) -> Adapter:
    """Read an adapter directory's config and tensors.

    Raises:
        ModelLoadError: not an adapter, no LoRA tensors, or a lora_A/lora_B pair that does not
            fit together.
    """
    d = Path(path)
    files = adapter_files(d)
    if files is None:
        raise ModelLoadError(f"{d}: not a PEFT adapter (no adapter_config.json with weights)")
    config = read_json(files[0])
    pairs: dict[str, dict[str, tuple[int, ...]]] = {}
    whole: list[str] = []
    lora_a: dict[str, np.ndarray] = {}
    for name, arr in iter_tensors(files[1]):
        m = _LORA.match(name)
        if m and arr.ndim == 2:
            pairs.setdefault(m.group(1), {})[m.group(2)] = arr.shape
            if m.group(2) == "A":
                lora_a[m.group(1)] = np.asarray(arr, dtype=np.float32)
        elif informative(arr):
            whole.append(digest(arr))
    modules: dict[str, tuple[int, int]] = {}
    ranks = set()
    for mod, ab in pairs.items():
        if set(ab) != {"A", "B"} or ab["A"][0] != ab["B"][1]:
            raise ModelLoadError(f"{files[1]}: lora_A and lora_B of {mod} do not fit together")
        ranks.add(ab["A"][0])
        modules[mod] = (ab["B"][0], ab["A"][1])
    if not modules:
        raise ModelLoadError(f"{files[1]}: no LoRA tensors (lora_A / lora_B)")
    rank = int(config.get("r") or max(ranks)) if isinstance(config.get("r"), int) else max(ranks)
    return Adapter(str(d), str(config.get("peft_type") or "LORA"), rank, modules, whole, lora_a)


def parameter_shapes(config: Any) -> dict[str, tuple[int, ...]]:
    """Every parameter's shape of a config's model, built on the meta device (no weights)."""
    model = build_model(config, device="meta")
    return {n: tuple(p.shape) for n, p in model.named_parameters()}


def fits(adapter: Adapter, shapes: dict[str, tuple[int, ...]]) -> bool:
    """Whether every adapted module has a base weight of its shape (see the module
    docstring); module paths may lack or add a task model's prefix (``model.``)."""
    for mod, (out, inp) in adapter.modules.items():
        want = {(out, inp), (inp, out)}
        hits = [
            s
            for n, s in shapes.items()
            if n.endswith(".weight") and same_path(n[: -len(".weight")], mod)
        ]
        if not any(s in want for s in hits):
            return False
    return True


def same_path(param: str, mod: str) -> bool:
    """``model.layers.0.q_proj`` is ``layers.0.q_proj`` under a task model's prefix."""
    return param == mod or param.endswith("." + mod) or mod.endswith("." + param)
