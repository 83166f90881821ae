"""The checkpoint: one file that holds a trained HashNet and everything needed to use it.

A checkpoint is a dict that ``torch.load(weights_only=True)`` reads (no pickled classes):

* ``format``: :data:`CHECKPOINT_FORMAT`;
* ``state_dict``: HashNet's tensors;
* ``recipe_json``: the resolved recipe (graph passes, merge rules, model, Q, ``imports``);
* ``encoder_json``: the fitted node encoder (:meth:`hnnframe.encoders.NodeEncoder.state_dict`,
  its type a registered name or a dotted path);
* ``categories``, ``bits``, ``in_dim``, ``epoch``.

Training (:mod:`hnnframe.train`) writes it, hashing (:mod:`hnnframe.hashing`) reads it; neither
imports the other. Components are stored by registered name or dotted path, and the recipe's
``imports`` are imported again on loading, so user plugins round-trip through a new process.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hnnframe.codes import DEFAULT_BITS
from hnnframe.errors import CheckpointError, ConfigError
from hnnframe.files import atomic_write
from hnnframe.plugins import import_modules

CHECKPOINT_FORMAT = "hnnframe-checkpoint/1"
_REQUIRED = ("state_dict", "recipe_json", "encoder_json", "categories", "bits")
MODEL_KEYS = frozenset(
    {"backbone", "pooling", "pool_per_layer", "fc_dims", "embedding_layer", "dropout"}
)


def code_layout(recipe: Mapping[str, Any]) -> tuple[int, int]:
    """``(learned, structural)`` bits of the recipe's code (``hash.bits`` is their sum).

    A hybrid code (``hash.structural_bits: K``) ends with K bits of a non-learned WL SimHash
    of the prepared graph (:class:`hnnframe.baselines.WLSimHash`, settings in
    ``hash.structural``); the network learns the other ``Q - K``. Both parts are whole bytes.
    """
    from hnnframe.codes import check_bits

    h = recipe.get("hash", {})
    total = check_bits(h.get("bits", DEFAULT_BITS))
    k = int(h.get("structural_bits", 0) or 0)
    if k:
        check_bits(k, "hash.structural_bits")
        if k >= total:
            raise ConfigError(f"hash.structural_bits ({k}) must be below hash.bits ({total})")
    return total - k, k


def build_model(recipe: Mapping[str, Any], in_dim: int, num_classes: int) -> Any:
    """The recipe's HashNet (``model`` section; its Q is the code's learned part)."""
    from hnnframe.nn import HashNet

    m = dict(recipe.get("model", {}))
    bits, _ = code_layout(recipe)
    extra = set(m) - MODEL_KEYS
    if extra:
        raise ConfigError(f"unknown model keys: {sorted(extra)}; valid: {sorted(MODEL_KEYS)}")
    return HashNet(in_dim=in_dim, bits=bits, num_classes=num_classes, **m)


def save_checkpoint(
    path: str | os.PathLike[str],
    model: Any,
    encoder: Any,
    categories: list[str],
    recipe: Mapping[str, Any],
    epoch: int,
) -> None:
    """Write a checkpoint that ``torch.load(weights_only=True)`` reads, atomically."""
    import torch

    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    ckpt = {
        "format": CHECKPOINT_FORMAT,
        "state_dict": state,
        # The recipe travels as JSON text so that weights_only loading needs no custom types.
        "recipe_json": json.dumps(recipe, default=str),
        "encoder_json": json.dumps(encoder.state_dict()),
        "categories": list(categories),
        "bits": int(model.bits) + code_layout(recipe)[1],
        "in_dim": int(encoder.dim),
        "epoch": int(epoch),
    }
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    atomic_write(path, buf.getvalue())


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and validate a checkpoint with ``weights_only=True``; CheckpointError if bad.

    The recipe's ``imports`` (plugin modules) are imported, so that components registered by
    a plugin resolve in a process that has not imported it.
    """
    import torch

    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p}: no such checkpoint")
    try:
        ckpt = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(
            f"{p}: not a readable hnnframe checkpoint ({type(e).__name__})"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{p}: not an hnnframe checkpoint (format {CHECKPOINT_FORMAT} expected)"
        )
    for key in _REQUIRED:
        if key not in ckpt:
            raise CheckpointError(f"{p}: checkpoint lacks {key!r}")
    try:
        recipe = json.loads(ckpt["recipe_json"])
    except ValueError:
        raise CheckpointError(f"{p}: the checkpoint's recipe is not JSON") from None
    import_modules(recipe.get("imports") or [])
    return ckpt
