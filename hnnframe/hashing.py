"""Hashing models with a trained checkpoint: the whole pipeline of the paper's Figure 2.

model -> ONNX -> OpGraph -> canonicalise/merge (the checkpoint's recipe) -> node features (the
checkpoint's vocabulary) -> HashNet in eval mode without gradients -> Q-bit code.

Codes are packed with ``np.packbits`` (big-endian bit order within each byte) and shown as hex.
The same file always gives the same code: export and hashing are deterministic in eval mode.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hnnframe.errors import CheckpointError, HnnError
from hnnframe.log import get_logger

log = get_logger(__name__)


def file_sha256(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pack_code(bits01: np.ndarray) -> bytes:
    return np.packbits(np.asarray(bits01, dtype=np.uint8)).tobytes()


def unpack_code(code: bytes, bits: int) -> np.ndarray:
    return np.unpackbits(np.frombuffer(code, dtype=np.uint8))[:bits]


@dataclass
class HashResult:
    path: str
    name: str
    sha256: str | None
    code: bytes
    bits: int
    category: str
    embedding: np.ndarray = field(repr=False)

    @property
    def hex(self) -> str:
        return self.code.hex()

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "code": self.hex, "bits": self.bits, "category": self.category}


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and validate a checkpoint with ``weights_only=True``; CheckpointError if bad."""
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
    from hnnframe.train import CHECKPOINT_FORMAT

    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{p}: not an hnnframe checkpoint (format {CHECKPOINT_FORMAT} expected)"
        )
    for key in ("state_dict", "recipe_json", "encoder_json", "categories", "bits"):
        if key not in ckpt:
            raise CheckpointError(f"{p}: checkpoint lacks {key!r}")
    return ckpt


class Hasher:
    """Hash models with a trained checkpoint.

    Attributes:
        bits: Q.
        fingerprint: sha256 of the checkpoint file; identifies which network made a code.
        categories: the category names that ``HashResult.category`` takes.
    """

    def __init__(self, ckpt: dict[str, Any], fingerprint: str, device: str = "cpu") -> None:
        from hnnframe.encoders import encoder_from_state
        from hnnframe.train import build_model

        self.recipe: dict[str, Any] = json.loads(ckpt["recipe_json"])
        self.encoder = encoder_from_state(json.loads(ckpt["encoder_json"]))
        self.categories: list[str] = list(ckpt["categories"])
        self.bits = int(ckpt["bits"])
        self.fingerprint = fingerprint
        self.device = device
        recipe_bits = int(self.recipe.get("hash", {}).get("bits", self.bits))
        if recipe_bits != self.bits:
            raise CheckpointError(
                f"checkpoint is for Q={self.bits} but its recipe says Q={recipe_bits}"
            )
        if int(ckpt.get("in_dim", self.encoder.dim)) != self.encoder.dim:
            raise CheckpointError(
                "checkpoint's vocabulary does not match its network's input width"
            )
        self.model = build_model(self.recipe, self.encoder.dim, len(self.categories))
        try:
            self.model.load_state_dict(ckpt["state_dict"])
        except RuntimeError as e:
            first = str(e).strip().splitlines()[0]
            raise CheckpointError(f"checkpoint weights do not fit its recipe ({first})") from None
        self.model.to(device).eval()

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str], device: str = "cpu") -> Hasher:
        ckpt = load_checkpoint(path)
        return cls(ckpt, file_sha256(path), device)

    def graph(self, source: Any) -> Any:
        """The recipe's prepared OpGraph of a model source (no augmentation)."""
        from hnnframe.data.dataset import prepare_graph
        from hnnframe.frontends import model_name
        from hnnframe.ir import OpGraph
        from hnnframe.pipeline import graph_of

        raw = source if isinstance(source, OpGraph) else graph_of(source)
        g, _ = prepare_graph(raw, self.recipe.get("graph", {}))
        g.name = raw.name or model_name(source)
        return g

    def hash_graphs(self, graphs: Sequence[Any], batch_size: int = 64) -> dict[str, np.ndarray]:
        from hnnframe.train import infer

        dgl_graphs = [g.to_dgl(self.encoder.encode(g)) for g in graphs]
        return infer(self.model, dgl_graphs, self.device, batch_size)

    def hash_many(
        self, sources: Sequence[str | os.PathLike[str]], progress: bool = False
    ) -> list[HashResult]:
        """Hash model files or ``torchvision:NAME`` sources, batching the network pass."""
        from tqdm import tqdm

        from hnnframe.frontends import model_name

        graphs, shas = [], []
        for src in tqdm(list(sources), desc="graphs", unit="model", disable=not progress):
            graphs.append(self.graph(src))
            s = str(src)
            shas.append(
                None if s.startswith("torchvision:") or not Path(s).is_file() else file_sha256(s)
            )
        out = self.hash_graphs(graphs)
        results = []
        for k, src in enumerate(sources):
            results.append(
                HashResult(
                    path=str(src),
                    name=model_name(src),
                    sha256=shas[k],
                    code=pack_code(out["codes"][k]),
                    bits=self.bits,
                    category=self.categories[int(out["pred"][k])] if self.categories else "",
                    embedding=out["embedding"][k],
                )
            )
        return results

    def hash(self, source: str | os.PathLike[str]) -> HashResult:
        return self.hash_many([source])[0]


def hamming(a: bytes, b: bytes) -> int:
    if len(a) != len(b):
        raise HnnError(f"codes of different lengths ({8 * len(a)} and {8 * len(b)} bits)")
    return int(np.unpackbits(np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)).sum())
