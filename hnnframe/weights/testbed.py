"""The weight tier's test bed (issue 12, item 2): trained models, their copies and
independently trained distractors, stored as real files with a manifest.

For each architecture (:mod:`hnnframe.weights.testbed_models`): *bases* (seeds 0, 1, ... on
data A), *seed distractors* (other seeds on data A) and *data distractors* (trained on data B).
Each base gets one copy of every kind in :data:`KINDS`. Models of one architecture that do not
descend from the same base are independent of each other; the evaluation
(:mod:`hnnframe.weights.evaluate`) compares every copy and every independent model with the
base.

The bed lives under ``hnnframe.files.cache_path("weights_testbed")`` unless told otherwise, one
folder per architecture and ``manifest.json`` beside them. Every file is written atomically
and the manifest after every model, so an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hnnframe.errors import HnnError
from hnnframe.files import PathLike, atomic_write, cache_path, file_sha256
from hnnframe.log import get_logger
from hnnframe.weights import copies as cp
from hnnframe.weights import testbed_models as tm

log = get_logger(__name__)

MANIFEST = "manifest.json"
VERSION = 1

#: Copy kinds, each with the file format it is stored in and what it is.
KINDS: dict[str, tuple[str, str]] = {
    "exact_onnx": ("onnx", "TorchScript ONNX export, BatchNorm kept: the same tensors"),
    "exact_renamed": ("safetensors", "safetensors, every tensor renamed and reordered"),
    "exact_statedict": ("torch", "torch.save state dict (weights_only)"),
    "exact_transposed": ("onnx", "ONNX rewritten: Gemm to MatMul with W^T, tensors renamed"),
    "reexport_dynamo": ("onnx", "dynamo ONNX exporter (BatchNorm folded into Conv)"),
    "finetune": ("safetensors", "fine-tuned on other data (digits B shifted+noise / text B)"),
    "int8_dynamic": ("onnx", "onnxruntime quantize_dynamic, int8 weights"),
    "int8_static": ("onnx", "onnxruntime quantize_static, QDQ, int8 per-channel weights"),
    "fp16": ("onnx", "onnxruntime float16 converter"),
    "prune10": ("torch", "layer-wise magnitude pruning, 10% of each weight zeroed"),
    "prune30": ("torch", "layer-wise magnitude pruning, 30%"),
    "prune50": ("torch", "layer-wise magnitude pruning, 50%"),
    "permute": ("safetensors", "hidden units permuted; outputs checked unchanged"),
    "permute_finetune": ("safetensors", "permuted, then fine-tuned on other data"),
}
EXACT_KINDS = ("exact_onnx", "exact_renamed", "exact_statedict", "exact_transposed")
#: Copies that combine two of the issue's kinds (reported apart: beyond the issue's goal).
COMBINED_KINDS = ("permute_finetune",)
TINY_KINDS = (
    "exact_onnx",
    "exact_renamed",
    "exact_statedict",
    "finetune",
    "int8_dynamic",
    "fp16",
    "prune50",
    "permute",
)
_EXT = {"onnx": ".onnx", "safetensors": ".safetensors", "torch": ".pt"}


@dataclass(frozen=True)
class Job:
    """One model of the bed: a trained original or a copy of a base."""

    id: str
    arch: str
    role: str  # "base" | "seed" | "data" | "copy"
    seed: int
    data: str  # "A" | "B"
    kind: str | None = None  # copy kind
    base: str | None = None  # the base a copy descends from

    @property
    def fmt(self) -> str:
        return KINDS[self.kind][0] if self.kind else "safetensors"

    @property
    def file(self) -> str:
        return f"{self.arch}/{self.id}{_EXT[self.fmt]}"


@dataclass(frozen=True)
class Plan:
    """How many models of each role per architecture, and which copy kinds."""

    bases: int = 6
    seeds: int = 4
    others: int = 2
    kinds: tuple[str, ...] = tuple(KINDS)
    archs: tuple[str, ...] = tm.ARCHS


FULL = Plan()
TINY = Plan(bases=1, seeds=2, others=1, kinds=TINY_KINDS)


def jobs(plan: Plan) -> list[Job]:
    """Every model of the bed, originals before the copies that need them."""
    out: list[Job] = []
    for arch in plan.archs:
        out += [Job(f"{arch}-base{s}", arch, "base", s, "A") for s in range(plan.bases)]
        out += [Job(f"{arch}-seed{s}", arch, "seed", 100 + s, "A") for s in range(plan.seeds)]
        out += [Job(f"{arch}-data{s}", arch, "data", 200 + s, "B") for s in range(plan.others)]
        for s in range(plan.bases):
            kinds = sorted(plan.kinds, key=lambda k: k != "exact_onnx")  # the ONNX first
            out += [
                Job(f"{arch}-base{s}-{k}", arch, "copy", s, "A", k, f"{arch}-base{s}")
                for k in kinds
            ]
    return out


def load_manifest(root: PathLike, build: str = "hnn weights testbed") -> dict[str, Any]:
    """The bed's manifest (``{"version", "tiny", "models": {id: entry}}``); ``build``: the
    command that builds the bed, for the error.

    Raises:
        HnnError: there is no bed at ``root``.
    """
    p = Path(root) / MANIFEST
    if not p.is_file():
        raise HnnError(f"no weight test bed at {root} (build it with `{build}`)")
    return json.loads(p.read_text())


def build_testbed(
    out: PathLike | None = None,
    tiny: bool = False,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    plan: Plan | None = None,
) -> Path:
    """Train, copy and store every model of the bed; models already there are kept.

    Args:
        out: the bed's folder (default ``cache_path("weights_testbed")``, ``..._tiny`` tiny).
        tiny: the tiny bed for tests (one base, two seeds, one data distractor per
            architecture, the copy kinds of :data:`TINY_KINDS`; seconds to build).
        force: delete the bed first and build it anew.
        progress: called with each model's id after it is done.
        plan: another mix of models (default :data:`FULL` or :data:`TINY`).

    Returns:
        The bed's folder.
    """
    torch.set_num_threads(1)
    root = cache_path("weights_testbed_tiny" if tiny else "weights_testbed", out)
    if force and root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    plan = plan or (TINY if tiny else FULL)
    mpath = root / MANIFEST
    manifest = json.loads(mpath.read_text()) if mpath.is_file() else {}
    if manifest and manifest.get("tiny") != tiny:
        raise HnnError(f"{root} holds a {'tiny' if manifest['tiny'] else 'full'} bed; use --out")
    manifest.setdefault("version", VERSION)
    manifest["tiny"] = tiny
    models: dict[str, Any] = manifest.setdefault("models", {})
    for job in jobs(plan):
        done = models.get(job.id)
        if done and (root / done["file"]).is_file():
            if progress:
                progress(job.id)
            continue
        t0 = time.perf_counter()
        extra = _make(job, root, tiny)
        models[job.id] = {
            **asdict(job),
            "file": job.file,
            "format": job.fmt,
            "sha256": file_sha256(root / job.file),
            "seconds": round(time.perf_counter() - t0, 3),
            **extra,
        }
        atomic_write(mpath, json.dumps(manifest, indent=1).encode())
        log.info("weights testbed: %s (%.1f s)", job.id, models[job.id]["seconds"])
        if progress:
            progress(job.id)
    return root


def _make(job: Job, root: Path, tiny: bool) -> dict[str, Any]:
    """Produce one model's file; return facts for the manifest."""
    path = root / job.file
    arch = job.arch
    if job.role != "copy":
        torch.manual_seed(job.seed)
        model = tm.build(arch, tiny)
        data = tm.inputs(arch, job.data, tiny)
        loss = tm.train(model, arch, data, job.seed, tiny)
        cp.save_safetensors(model.state_dict(), path)
        other = tm.inputs(arch, "B" if job.data == "A" else "A", tiny)
        return {"loss": round(loss, 4), "accuracy": round(tm.accuracy(model, arch, other), 4)}
    base_file = root / f"{arch}/{job.base}.safetensors"
    state = cp.load_state(base_file)
    model = tm.build(arch, tiny)
    model.load_state_dict(state)
    model.eval()
    x = tm.probe(arch, tiny)
    onnx_file = root / f"{arch}/{job.base}-exact_onnx.onnx"
    kind = job.kind or ""
    if kind == "exact_onnx":
        cp.export_onnx(model, x, path, fold=arch != "cnn")
        ref = model(x).detach().numpy()
        diff = float(np.abs(cp.onnx_outputs(path, x.numpy()) - ref).max())
        if diff > 1e-3:
            raise HnnError(f"{job.id}: the ONNX export computes another function ({diff:g})")
        return {"max_output_diff": diff}
    if kind == "exact_renamed":
        cp.save_safetensors(state, path, rename_seed=1000 + job.seed)
    elif kind == "exact_statedict":
        cp.save_state_dict(state, path)
    elif kind == "exact_transposed":
        cp.transposed_rewrite(onnx_file, path)
    elif kind == "reexport_dynamo":
        cp.export_onnx(model, x, path, dynamo=True)
    elif kind in ("finetune", "permute_finetune"):
        if kind == "permute_finetune":
            model.load_state_dict(cp.permute_state(arch, state, 2000 + job.seed))
        data = tm.inputs(arch, "B", tiny, augment=True, seed=3000 + job.seed)
        ft_epochs = 2 if tiny else (10 if arch == "transformer" else 5)
        tm.train(model, arch, data, 3000 + job.seed, tiny, epochs=ft_epochs, lr=1e-3)
        cp.save_safetensors(model.state_dict(), path)
        return {"accuracy": round(tm.accuracy(model, arch, tm.inputs(arch, "A", tiny)), 4)}
    elif kind == "int8_dynamic":
        cp.quantize_dynamic(onnx_file, path)
    elif kind == "int8_static":
        calib = [x[i : i + 4].numpy() for i in range(0, len(x), 4)]
        cp.quantize_static(onnx_file, path, calib)
    elif kind == "fp16":
        cp.to_fp16(onnx_file, path)
    elif kind.startswith("prune"):
        cp.save_state_dict(cp.prune_state(state, int(kind[5:]) / 100), path)
    elif kind == "permute":
        permuted = tm.build(arch, tiny)
        permuted.load_state_dict(cp.permute_state(arch, state, 2000 + job.seed))
        permuted.eval()
        diff = cp.same_function(model, permuted, x)
        cp.save_safetensors(permuted.state_dict(), path)
        return {"max_output_diff": diff}
    else:
        raise HnnError(f"unknown copy kind {kind!r}; known: {', '.join(KINDS)}")
    return {}
