"""The weight tier's language-model bed (issue 21): tiny Llama, GPT-2 and BERT models
(:mod:`hnnframe.weights.lm`) trained here on the standard library's source, the copies a hub
sees of them (:mod:`hnnframe.weights.lm_copies`, GGUF by :mod:`hnnframe.weights.gguf_export`)
and independently trained models of the same configs, saved as a hub holds them.

Per architecture: *bases* (seeds 0.. on text A), *seed* independents (other seeds, text A)
and *data* independents (text B, the other half of the standard library). Every model is a
snapshot directory (``config.json`` and its weights) or a GGUF file, listed in
``manifest.json`` with its lineage; the manifest is written after every model, so a build
that stops resumes where it stopped and a rerun with the same plan trains nothing.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from hnnframe.errors import HnnError
from hnnframe.files import PathLike, atomic_write, cache_path
from hnnframe.log import get_logger
from hnnframe.weights.lm import stdlib_text, tiny_model, train

log = get_logger(__name__)

MANIFEST = "manifest.json"

#: Copy kinds of a base: what each is.
KINDS: dict[str, str] = {
    "exact_safetensors": "save_pretrained again: one safetensors file",
    "exact_shards": "safetensors shards (max_shard_size 40KB) with an index",
    "exact_bin": "pytorch_model.bin (torch.save of the state dict)",
    "fp16": "cast to float16",
    "bf16": "cast to bfloat16",
    "gguf_f16": "GGUF, matrices F16 (gguf_export, llama.cpp's layout)",
    "gguf_q8_0": "GGUF, matrices Q8_0",
    "gguf_q4_0": "GGUF, matrices Q4_0",
    "finetune": "fine-tuned on text B (tune steps, lr 1e-3)",
    "finetune_long": "fine-tuned on text B for 10x the tune steps",
    "lora_merged": "LoRA rank 4 on every block matrix, trained on text B, merged",
    "vocab_extended": "16 tokens added (resize_token_embeddings), trained on text B using them",
    "layer_dropped": "the middle block removed, the rest trained on text B",
    "classifier": "ForSequenceClassification on the base's body, trained to tell text A from B",
    "merge": "linear merge (0.5/0.5) of two fine-tunes of the base",
    "permute": "MLP units and attention heads permuted per block; outputs checked unchanged",
    "permute_residual": "the residual stream's dimensions permuted in every tensor (embeddings, "
    "projections, norms, head); outputs checked unchanged",
}
GGUF_KINDS = {"gguf_f16": "F16", "gguf_q8_0": "Q8_0", "gguf_q4_0": "Q4_0"}
EXACT_KINDS = ("exact_safetensors", "exact_shards", "exact_bin")
ARCHS = ("llama", "gpt2", "bert")


@dataclass(frozen=True)
class LMPlan:
    """How many models of each role per architecture, their sizes and training steps."""

    bases: int = 5
    seeds: int = 20
    others: int = 4
    layers: int = 4
    steps: int = 200
    tune_steps: int = 60
    kinds: tuple[str, ...] = tuple(KINDS)
    archs: tuple[str, ...] = ARCHS

    def independents(self) -> int:
        """Independently trained models per architecture (bases included)."""
        return self.bases + self.seeds + self.others


#: A bed for tests: seconds to build.
TINY_LM = LMPlan(bases=1, seeds=2, others=1, layers=3, steps=20, tune_steps=5)


def _originals(plan: LMPlan, arch: str) -> list[dict[str, Any]]:
    out = [
        {"id": f"{arch}-base{s}", "role": "base", "seed": s, "data": 0} for s in range(plan.bases)
    ]
    out += [
        {"id": f"{arch}-seed{s}", "role": "seed", "seed": 100 + s, "data": 0}
        for s in range(plan.seeds)
    ]
    out += [
        {"id": f"{arch}-data{s}", "role": "data", "seed": 200 + s, "data": 1}
        for s in range(plan.others)
    ]
    return out


def _model_class(arch: str) -> Any:
    import transformers as T

    return {"llama": T.LlamaForCausalLM, "gpt2": T.GPT2LMHeadModel, "bert": T.BertForMaskedLM}[arch]


def save_bin(model: Any, out: Path) -> Path:
    """config.json and ``pytorch_model.bin`` (the older layout)."""
    import torch

    out.mkdir(parents=True, exist_ok=True)
    model.config.to_json_file(str(out / "config.json"))
    torch.save({k: v.clone() for k, v in model.state_dict().items()}, out / "pytorch_model.bin")
    return out


def make_copy(
    kind: str, base: Any, base_dir: Path, out: Path, seed: int, plan: LMPlan, texts: list[list[int]]
) -> Path:
    """Write the ``kind`` copy of ``base`` (saved at ``base_dir``) at ``out`` (a directory,
    or a ``.gguf`` file for the GGUF kinds); returns the path written."""
    import torch

    from hnnframe.weights import lm_copies as lc
    from hnnframe.weights.gguf_export import export_gguf

    a, b = texts
    t = plan.tune_steps
    if kind in GGUF_KINDS:
        return export_gguf(base_dir, out.with_suffix(".gguf"), GGUF_KINDS[kind])
    if kind == "exact_bin":
        return save_bin(base, out)
    model = {
        "exact_safetensors": lambda: base,
        "exact_shards": lambda: base,
        "fp16": lambda: copy.deepcopy(base).to(torch.float16),
        "bf16": lambda: copy.deepcopy(base).to(torch.bfloat16),
        "finetune": lambda: train(copy.deepcopy(base), b, t, seed + 1000, lr=1e-3),
        "finetune_long": lambda: train(copy.deepcopy(base), b, 10 * t, seed + 2000, lr=1e-3),
        "lora_merged": lambda: lc.lora_merged(base, b, 3 * t, seed + 3000),
        "vocab_extended": lambda: lc.vocab_extended(base, b, 16, 3 * t, seed + 4000),
        "layer_dropped": lambda: lc.layer_dropped(base, plan.layers // 2, b, 3 * t, seed + 5000),
        "classifier": lambda: lc.classifier(base, [a, b], 2 * t, seed + 6000),
        "merge": lambda: lc.linear_merge(
            train(copy.deepcopy(base), b, t, seed + 7000, lr=1e-3),
            train(copy.deepcopy(base), a[len(a) // 2 :], t, seed + 7001, lr=1e-3),
        ),
        "permute": lambda: lc.permuted(base, seed + 8000),
        "permute_residual": lambda: lc.residual_permuted(base, seed + 9000),
    }.get(kind)
    if model is None:
        raise HnnError(f"unknown copy kind {kind!r}; known: {', '.join(KINDS)}")
    shard = {"max_shard_size": "40KB"} if kind == "exact_shards" else {}
    model().save_pretrained(out, **shard)
    return out


def build_lm_testbed(
    out: PathLike | None = None,
    plan: LMPlan | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Train, copy and save every model of the bed; models already listed are kept.

    Args:
        out: the bed's folder (default ``cache_path("weights_lm_testbed")``).
        plan: the mix of models (default :class:`LMPlan`); a bed built with another plan's
            sizes or steps is refused (more models of the same plan are added).
        progress: called with each model's id after it is done.
    """
    import torch

    torch.set_num_threads(1)
    bed = _Bed(cache_path("weights_lm_testbed", out), plan or LMPlan(), progress)
    for arch in bed.plan.archs:
        for o in _originals(bed.plan, arch):
            base = bed.original(arch, o)
            if o["role"] == "base":
                bed.copies(arch, o, base)
    return bed.root


class _Bed:
    """The bed being built: its folder, its manifest (written after every model) and the
    two texts."""

    def __init__(self, root: Path, plan: LMPlan, progress: Callable[[str], None] | None) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root, self.plan, self.progress = root, plan, progress
        self.mpath = root / MANIFEST
        manifest = json.loads(self.mpath.read_text()) if self.mpath.is_file() else {}
        recipe = {k: v for k, v in asdict(plan).items() if k in ("layers", "steps", "tune_steps")}
        if manifest.get("recipe", recipe) != recipe:
            raise HnnError(f"{root} holds a bed of {manifest['recipe']}, not {recipe}; use --out")
        manifest["recipe"] = recipe
        manifest["plan"] = asdict(plan)
        self.manifest = manifest
        self.models: dict[str, Any] = manifest.setdefault("models", {})
        self.texts = [stdlib_text(0), stdlib_text(1)]

    def done(self, mid: str, entry: dict[str, Any], t0: float) -> None:
        self.models[mid] = {**entry, "seconds": round(time.perf_counter() - t0, 3)}
        atomic_write(self.mpath, json.dumps(self.manifest, indent=1).encode())
        log.info("lm testbed: %s (%.1f s)", mid, self.models[mid]["seconds"])
        if self.progress:
            self.progress(mid)

    @staticmethod
    def entry(arch: str, o: dict[str, Any]) -> dict[str, Any]:
        return {
            "arch": arch,
            "role": o["role"],
            "base": None,
            "kind": None,
            "path": f"{arch}/{o['id']}",
            "seed": o["seed"],
            "data": "AB"[o["data"]],
        }

    def original(self, arch: str, o: dict[str, Any]) -> Any:
        """Train and save an original unless it is there; the model when it was trained."""
        path = self.root / arch / o["id"]
        if o["id"] in self.models and path.is_dir():
            return None
        t0 = time.perf_counter()
        model = tiny_model(arch, o["seed"], self.plan.layers)
        base = train(model, self.texts[o["data"]], self.plan.steps, o["seed"])
        base.save_pretrained(path)
        self.done(o["id"], self.entry(arch, o), t0)
        return base

    def copies(self, arch: str, o: dict[str, Any], base: Any) -> None:
        """Every copy kind of the plan of base ``o`` that is not there yet."""
        path = self.root / arch / o["id"]
        for kind in self.plan.kinds:
            mid = f"{o['id']}-{kind}"
            have = self.models.get(mid)
            if have and (self.root / have["path"]).exists():
                continue
            t0 = time.perf_counter()
            if base is None:
                base = _model_class(arch).from_pretrained(path).eval()
            target = self.root / arch / mid
            written = make_copy(kind, base, path, target, o["seed"], self.plan, self.texts)
            rel = str(written.relative_to(self.root))
            entry = {**self.entry(arch, o), "role": "copy", "kind": kind, "base": o["id"]}
            self.done(mid, {**entry, "path": rel}, t0)


def load_lm_manifest(root: PathLike) -> dict[str, Any]:
    """The bed's manifest.

    Raises:
        HnnError: there is no bed at ``root``.
    """
    from hnnframe.weights.testbed import load_manifest

    return load_manifest(root, build="hnn weights testbed --lm")


def tiny_plan(**changes: Any) -> LMPlan:
    """:data:`TINY_LM` with ``changes`` (tests)."""
    return replace(TINY_LM, **changes)
