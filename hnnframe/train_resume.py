"""Training state written after every epoch, so a killed ``hnn train`` (or ``hnn demo``, or
``hnn reproduce`` run) continues from its last finished epoch instead of starting again.

``out_dir/resume.pt`` holds what the model checkpoint (:mod:`hnnframe.checkpoint`) leaves
out: the optimizer's moments, the loss terms' own parameters, the random streams, the codes of
the last evaluation and the history. A resumed run draws the same pairs and takes the same
steps as one that was never interrupted. The state is only used for the same resolved recipe
(its JSON digest is stored), and is removed when training finishes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hnnframe.files import atomic_write
from hnnframe.log import get_logger

log = get_logger(__name__)

RESUME_FILE = "resume.pt"
RESUME_FORMAT = "hnnframe-resume/1"


def recipe_digest(recipe: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()


def save_resume(
    out_dir: Path,
    recipe: Mapping[str, Any],
    epoch: int,
    model: Any,
    criterion: Any,
    opt: Any,
    rng: np.random.Generator,
    prev_codes: np.ndarray | None,
    history: list[dict[str, float]],
    seconds: float,
) -> None:
    state = {
        "format": RESUME_FORMAT,
        "recipe": recipe_digest(recipe),
        "epoch": int(epoch),
        "seconds": float(seconds),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "criterion": {k: v.detach().cpu() for k, v in criterion.state_dict().items()},
        "optimizer": opt.state_dict(),
        # Generator and interpreter streams as JSON text: weights_only loading takes no objects.
        "numpy_rng": json.dumps(rng.bit_generator.state),
        "numpy_global": json.dumps(_np_global_state()),
        "python_rng": json.dumps(random.getstate()),
        "torch_rng": torch.get_rng_state(),
        # Dropout on a GPU draws from the CUDA generators.
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
        "prev_codes": None if prev_codes is None else torch.from_numpy(prev_codes.copy()),
        "history_json": json.dumps(history),
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write(out_dir / RESUME_FILE, buf.getvalue())


def load_resume(out_dir: Path, recipe: Mapping[str, Any]) -> dict[str, Any] | None:
    """The saved state of an interrupted run of this recipe in ``out_dir``, or None (none
    saved, another recipe's, or unreadable: each logged, and training starts afresh)."""
    p = out_dir / RESUME_FILE
    if not p.exists():
        return None
    try:
        state = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as e:
        log.warning(
            "%s: unreadable training state (%s); training from the start", p, type(e).__name__
        )
        return None
    if not isinstance(state, dict) or state.get("format") != RESUME_FORMAT:
        log.warning("%s: not a training state of this version; training from the start", p)
        return None
    if state.get("recipe") != recipe_digest(recipe):
        log.warning("%s: saved by another recipe; training from the start", p)
        return None
    return state


def restore_streams(state: Mapping[str, Any], rng: np.random.Generator) -> None:
    rng.bit_generator.state = json.loads(state["numpy_rng"])
    kind, keys, pos, has_gauss, gauss = json.loads(state["numpy_global"])
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = json.loads(state["python_rng"])
    random.setstate((version, tuple(internal), gauss_next))
    torch.set_rng_state(state["torch_rng"])
    if state.get("cuda_rng") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])


def clear_resume(out_dir: Path) -> None:
    try:
        os.remove(out_dir / RESUME_FILE)
    except FileNotFoundError:
        pass


def _np_global_state() -> list[Any]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return [kind, [int(k) for k in keys], int(pos), int(has_gauss), float(gauss)]
