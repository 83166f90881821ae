"""Metric loggers for training and tuning runs (after torchtune's metric_logging protocol).

:class:`MetricLogger` is the small protocol the trainer writes to (``log``, ``log_dict``,
``log_config``, ``close``); :class:`TensorBoardLogger` implements it over
``torch.utils.tensorboard.SummaryWriter`` and adds histograms, HParams and the embedding
projector, which the trainer uses when a logger has them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from hnnframe.recipe import dump_recipe


class MetricLogger(Protocol):
    def log(self, name: str, value: float, step: int) -> None: ...
    def log_dict(self, values: Mapping[str, float], step: int) -> None: ...
    def log_config(self, config: Mapping[str, Any]) -> None: ...
    def close(self) -> None: ...


class TensorBoardLogger:
    """MetricLogger over ``torch.utils.tensorboard.SummaryWriter``."""

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(log_dir))

    def log(self, name: str, value: float, step: int) -> None:
        self.writer.add_scalar(name, value, step)

    def log_dict(self, values: Mapping[str, float], step: int) -> None:
        for k, v in values.items():
            self.writer.add_scalar(k, v, step)

    def log_config(self, config: Mapping[str, Any]) -> None:
        self.writer.add_text("recipe", "```\n" + dump_recipe(config) + "\n```", 0)

    def log_histogram(self, name: str, values: np.ndarray, step: int) -> None:
        self.writer.add_histogram(name, values, step)

    def log_hparams(self, hparams: Mapping[str, Any], metrics: Mapping[str, float]) -> None:
        clean = {
            k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in hparams.items()
        }
        self.writer.add_hparams(clean, dict(metrics), run_name=".")

    def log_embedding(self, emb: np.ndarray, labels: list[list[str]], header: list[str]) -> None:
        import shutil

        import torch

        # A rerun into the same directory replaces the projector's files; tensorboard would
        # first print a warning on stdout, into the output of the command that trains.
        shutil.rmtree(os.path.join(self.writer.log_dir, "00000", "embedding"), ignore_errors=True)
        self.writer.add_embedding(
            torch.as_tensor(emb), metadata=labels, metadata_header=header, tag="embedding"
        )

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


def flat_hparams(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """The recipe's tunable scalars, flattened to dotted keys for TensorBoard's HParams tab."""
    out: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(node, (int, float, str, bool)):
            out[prefix] = node
        elif isinstance(node, list):
            out[prefix] = ",".join(map(str, node))

    for section in ("hash", "loss", "model", "train", "encoder", "graph"):
        walk(section, recipe.get(section, {}))
    return out
