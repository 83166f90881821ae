"""Hashing models with a trained checkpoint: the whole pipeline of the paper's Figure 2.

model -> ONNX -> OpGraph -> canonicalise/merge (the checkpoint's recipe) -> node features (the
checkpoint's vocabulary) -> HashNet in eval mode without gradients -> Q-bit code.

Codes are packed by :mod:`hnnframe.codes` and shown as hex. The same file always gives the same
code: export and hashing are deterministic in eval mode. Hashing reads a checkpoint
(:mod:`hnnframe.checkpoint`) and never imports the training code.

A batch of models survives bad files: :meth:`Hasher.hash_many` with ``errors="collect"``
returns a :class:`HashFailure` (naming the file and the reason) in place of each model that
could not be read, and hashes the rest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hnnframe import limits
from hnnframe.baselines import WLSimHash
from hnnframe.checkpoint import build_model, code_layout, load_checkpoint
from hnnframe.codes import pack_code
from hnnframe.encoders import encoder_from_state
from hnnframe.errors import (
    CheckpointError,
    ConfigError,
    HnnError,
    ModelLoadError,
    upload_error,
)
from hnnframe.files import file_sha256, model_sha256
from hnnframe.frontends import hf_arch, model_name
from hnnframe.ir import OpGraph
from hnnframe.log import get_logger
from hnnframe.pipeline import graph_of, prepare_graph
from hnnframe.repo import directory_sha256, is_adapter, is_snapshot

log = get_logger(__name__)


@dataclass
class HashResult:
    path: str
    name: str
    sha256: str | None
    code: bytes
    bits: int
    category: str
    embedding: np.ndarray = field(repr=False)
    # The exact-architecture tier (docs/index-guide.md, "Same architecture"): the digest of the
    # canonical graph the code was computed from, and of a config source's architecture fields.
    graph_digest: str | None = None
    config_digest: str | None = None

    ok = True

    @property
    def hex(self) -> str:
        return self.code.hex()

    def as_dict(self) -> dict[str, Any]:
        # (no predicted category: the network's groups say nothing of a model outside them,
        # so a CLI that printed one named GPT-2, BERT and a ViT alike; issue 18)
        return {
            "path": self.path,
            "code": self.hex,
            "bits": self.bits,
            "graph_digest": self.graph_digest,
            "config_digest": self.config_digest,
        }


@dataclass
class HashFailure:
    """A model of a batch that could not be hashed, and why (one line naming the file)."""

    path: str
    error: str

    ok = False

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "error": self.error}


def _naming(source: str, e: BaseException) -> str:
    """The error's message, prefixed by the source unless it already names it."""
    msg = str(e)
    return msg if msg.startswith(source) else f"{source}: {msg}"


def _failure(s: str, e: Exception, errors: str) -> HashFailure:
    """The :class:`HashFailure` of source ``s``, which could not be read; with
    ``errors="raise"``, its one-line error is raised instead."""
    if isinstance(e, HnnError):
        if errors == "raise":
            raise type(e)(_naming(s, e)) from None
        failure = HashFailure(s, _naming(s, e))
        log.debug("%s", failure.error)  # the caller reports it (one line per file)
        return failure
    if isinstance(e, OSError):  # a file that vanished or cannot be read
        if errors == "raise":
            raise HnnError(_naming(s, e)) from None
        return HashFailure(s, _naming(s, e))
    # A stranger's bytes broke a decoder (protobuf strings that are no UTF-8, a zip or JSON
    # parser, memory or recursion blown by a declared size): that model's one-line error,
    # never the batch's.
    err = ModelLoadError(upload_error(s, e))  # (HNN_DEBUG: raised as it is)
    if errors == "raise":
        raise err from None
    return HashFailure(s, str(err))


def graph_digest(graph: Any) -> str:
    """The digest of a canonical graph that the exact-architecture tier compares: its
    :meth:`~hnnframe.ir.OpGraph.structure_hash` (ops, FLOPs, parameters and edges, whatever
    the node order), the same equality docs/canonical_hub.md counts as "same graph"."""
    return str(graph.structure_hash())


def source_config_digest(source: Any) -> str | None:
    """The architecture digest of a config source (``hf:NAME``, ``config.json``, a snapshot
    directory; :mod:`hnnframe.frontends.hf_arch`), else None."""
    return hf_arch.source_config_digest(source)


def source_sha256(source: Any) -> str | None:
    """sha256 of a model file's bytes, or the digest of a repository directory's weights
    (:func:`hnnframe.repo.directory_sha256`); None for a named model, an in-memory module
    or a directory that holds only a config."""
    s = str(source) if isinstance(source, (str, os.PathLike)) else ""
    if s and (is_snapshot(s) or is_adapter(s)):
        return directory_sha256(s)
    return model_sha256(s) if s and Path(s).is_file() else None


class Hasher:
    """Hash models with a trained checkpoint.

    Attributes:
        bits: Q.
        fingerprint: sha256 of the checkpoint file; identifies which network made a code.
        categories: the category names that ``HashResult.category`` takes.
    """

    def __init__(self, ckpt: dict[str, Any], fingerprint: str, device: str = "cpu") -> None:
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
        self.structural_bits = code_layout(self.recipe)[1]
        try:
            self.model.load_state_dict(ckpt["state_dict"])
        except RuntimeError as e:
            first = str(e).strip().splitlines()[0]
            raise CheckpointError(f"checkpoint weights do not fit its recipe ({first})") from None
        self.model.to(device).eval()

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str], device: str = "cpu") -> Hasher:
        if str(device).startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ConfigError(f"device {device!r} requested but CUDA is not available")
        ckpt = load_checkpoint(path)
        return cls(ckpt, file_sha256(path), device)

    def graph(self, source: Any) -> Any:
        """The recipe's prepared OpGraph of a model source (no augmentation): the canonical
        graph whose :func:`graph_digest` an index stores."""
        raw = source if isinstance(source, OpGraph) else graph_of(source)
        g, _ = prepare_graph(raw, self.recipe.get("graph", {}))
        g.name = raw.name or model_name(source)
        return g

    def hash_graphs(self, graphs: Sequence[Any], batch_size: int = 64) -> dict[str, np.ndarray]:
        """Codes of prepared graphs: the network's bits, then (hybrid recipes) the structural
        WL SimHash bits (:func:`hnnframe.checkpoint.code_layout`)."""
        from hnnframe.dgl_compat import to_dgl
        from hnnframe.nn import infer

        dgl_graphs = [to_dgl(g, self.encoder.encode(g)) for g in graphs]
        out = infer(self.model, dgl_graphs, self.device, batch_size)
        if self.structural_bits:
            cfg = dict(self.recipe.get("hash", {}).get("structural") or {})
            wl = WLSimHash(self.structural_bits, labels=cfg.pop("labels", "op_digits"), **cfg)
            out["learned_codes"] = out["codes"]
            out["structural_codes"] = wl.codes(list(graphs))["codes"]
            out["codes"] = np.concatenate([out["codes"], out["structural_codes"]], axis=1)
        return out

    def hash_many(
        self,
        sources: Sequence[Any],
        progress: bool = False,
        *,
        errors: str = "raise",
        shas: Sequence[str | None] | None = None,
    ) -> list[Any]:
        """Hash model files or named sources (``torchvision:NAME``), batching the network pass.

        Args:
            sources: model files or named sources.
            progress: show a progress bar over the models.
            errors: ``"raise"`` stops at the first model that cannot be read (its error names
                the file); ``"collect"`` puts a :class:`HashFailure` in its place and goes on.
            shas: the files' sha256 when the caller has computed them already.

        Returns:
            One :class:`HashResult` (or, with ``errors="collect"``, :class:`HashFailure`) per
            source, in order.
        """
        from tqdm import tqdm

        if errors not in ("raise", "collect"):
            raise ValueError(f"errors must be 'raise' or 'collect', got {errors!r}")
        sources = list(sources)
        slots: list[Any] = [None] * len(sources)
        graphs, where = [], []
        bar = tqdm(sources, desc="graphs", unit="model", disable=not progress)
        for k, src in enumerate(bar):
            try:
                g, digests = self._graph_and_digests(src)
                sha = shas[k] if shas is not None else source_sha256(src)
            except Exception as e:  # noqa: BLE001 - sorted out (or raised) by _failure
                slots[k] = _failure(str(src), e, errors)
                continue
            graphs.append(g)
            where.append((k, sha, digests))
        out = self.hash_graphs(graphs) if graphs else None
        for j, (k, sha, (gd, cd)) in enumerate(where):
            assert out is not None
            src = sources[k]
            slots[k] = HashResult(
                path=str(src),
                name=model_name(src),
                sha256=sha,
                code=pack_code(out["codes"][j]),
                bits=self.bits,
                category=self.categories[int(out["pred"][j])] if self.categories else "",
                embedding=out["embedding"][j],
                graph_digest=gd,
                config_digest=cd,
            )
        return slots

    def _graph_and_digests(self, src: Any) -> tuple[Any, tuple[str, str | None]]:
        """The source's graph and its graph and config digests, within the upload deadline."""
        with limits.deadline(str(src)):
            g = self.graph(src)
            digests = (graph_digest(g), source_config_digest(src))
            limits.check_time()
        return g, digests

    def iter_hash(
        self,
        sources: Sequence[Any],
        chunk: int = 32,
        progress: bool = False,
        shas: Sequence[str | None] | None = None,
    ) -> Iterator[list[Any]]:
        """:meth:`hash_many` with ``errors="collect"`` in chunks of ``chunk`` sources, so a
        caller can store each chunk before the next is read (a killed batch keeps its work)."""
        from tqdm import tqdm

        sources = list(sources)
        with tqdm(total=len(sources), desc="hash", unit="model", disable=not progress) as bar:
            for i in range(0, len(sources), chunk):
                part = sources[i : i + chunk]
                sub = shas[i : i + chunk] if shas is not None else None
                yield self.hash_many(part, errors="collect", shas=sub)
                bar.update(len(part))

    def hash(self, source: Any) -> HashResult:
        return self.hash_many([source])[0]
