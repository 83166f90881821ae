"""The language-model part of ``hnn demo`` (issue 18, item 6): a small language model trained
here, indexed as a snapshot directory, and three uploads checked against it.

1. a tiny Llama (:mod:`hnnframe.weights.lm`) is trained on half of the standard library's
   source and saved with ``save_pretrained``; the directory is added to an index (SQLite,
   under the demo's output folder) with the demo's checkpoint;
2. uploads: the base fine-tuned on the other half (at a third of its learning rate) and
   saved in shards; that fine-tune's GGUF
   F16 export (written with the ``gguf`` package as llama.cpp's converter writes it); and an
   independently trained model of the same config;
3. each is checked as ``hnn index check`` does, and its verdict printed.
"""

from __future__ import annotations

import copy
import shutil
import time
from pathlib import Path
from typing import Any

from hnnframe.weights.lm import stdlib_text, tiny_model, train

STEPS = 150  # training steps of the base and of the independent model
TUNE_STEPS = 100  # fine-tuning steps of the copy
TUNE_LR = 1e-3  # a fine-tune's learning rate, a third of the base's


def uploads(root: Path, say: Any) -> tuple[Path, list[tuple[str, Path]]]:
    """Train the base and make the three uploads under ``root``; ``(base, [(what, path)])``."""
    from hnnframe.weights.gguf_export import export_gguf

    t0 = time.perf_counter()
    text, other = stdlib_text(0), stdlib_text(1)
    base = train(tiny_model("llama", 0), text, STEPS, seed=0)
    base.save_pretrained(root / "tiny-llama")
    say(
        f"      trained a tiny Llama ({sum(p.numel() for p in base.parameters()):,} parameters, "
        f"{STEPS} steps) in {time.perf_counter() - t0:.0f} s -> {root / 'tiny-llama'}"
    )
    tuned = train(copy.deepcopy(base), other, TUNE_STEPS, seed=1, lr=TUNE_LR)
    tuned.save_pretrained(root / "finetune-shards", max_shard_size="40KB")
    gguf = export_gguf(root / "finetune-shards", root / "finetune-F16.gguf", "F16")
    independent = train(tiny_model("llama", 1), text, STEPS, seed=2)
    independent.save_pretrained(root / "independent")
    return root / "tiny-llama", [
        ("a fine-tuned copy saved in shards", root / "finetune-shards"),
        ("its GGUF F16 export", gguf),
        ("an independently trained model, same config", root / "independent"),
    ]


def run(out: str, hasher: Any, say: Any) -> list[dict[str, Any]]:
    """Steps 1-3 of the module docstring; one verdict per upload."""
    import hnnframe.index as hindex

    root = Path(out) / "lm"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    base, ups = uploads(root, say)
    verdicts = []
    with hindex.open(str(root / "index.db")) as idx:
        (rec,) = idx.add_models([base], hasher, checkpoint=None)
        say(
            f"      indexed #{rec.id} {rec.name} as a snapshot directory "
            f"({rec.weights['tensors']} weight tensors)"
        )
        pairs = idx.check_models([p for _, p in ups], hasher)
    for (what, path), (_, res) in zip(ups, pairs, strict=True):
        word = "SUSPECT" if res.fails("auto") else "clean"
        top = res.candidates[0] if res.candidates else None
        w = top.weights if top is not None else None
        detail = (
            f"weight code distance {w.distance} of {w.bits} bits (threshold {w.threshold})"
            if w is not None and w.compared
            else ""
        )
        say(f"  {word:<8} {what}: {res.tier}" + (f"; {detail}" if detail else ""))
        verdicts.append(
            {
                "upload": what,
                "path": str(path),
                "tier": res.tier,
                "suspect": res.fails("auto"),
                "weights": detail,
            }
        )
    return verdicts
