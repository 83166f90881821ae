"""The loss-term interface and the weighted sum of eq. 6 (paper section 3.4)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from hnnframe.errors import ConfigError
from hnnframe.nn import HashOutput
from hnnframe.registry import Registry

LOSSES: Registry[LossTerm] = Registry("loss")


@dataclass
class PairBatch:
    """Targets of a batch of pairs: labels, raw GED (or the recipe's structural distance) and
    both graphs' node counts; ``instance1``/``instance2`` name each graph's architecture
    (every architecture its own class, for instance-level terms)."""

    labels1: torch.Tensor
    labels2: torch.Tensor
    ged: torch.Tensor
    size1: torch.Tensor
    size2: torch.Tensor
    instance1: torch.Tensor | None = None
    instance2: torch.Tensor | None = None


class LossTerm(nn.Module):
    """Base class of loss terms: ``term(o1, o2, batch)`` is the mean over the batch's pairs.

    ``o1`` and ``o2`` are the network's outputs for the first and second graph of each pair
    (:class:`hnnframe.nn.HashOutput`: embedding, activation, logits), ``batch`` the pairs'
    targets (:class:`PairBatch`). Register a term in :data:`LOSSES` (or name it by its dotted
    path) and give it a weight in the recipe's ``loss`` section (``loss.terms``).
    """

    def forward(self, o1: HashOutput, o2: HashOutput, batch: PairBatch) -> torch.Tensor:
        raise NotImplementedError


def normalise_ged(
    ged: torch.Tensor, size1: torch.Tensor, size2: torch.Tensor, how: str
) -> torch.Tensor:
    if how == "none":
        return ged
    if how == "mean_size":  # SimGNN's nGED
        return ged / ((size1 + size2) / 2).clamp(min=1)
    if how == "max_size":
        return ged / torch.maximum(size1, size2).clamp(min=1)
    raise ConfigError(f"unknown ged_norm {how!r}; valid: none, mean_size, max_size")


def build_term(spec: Any, context: Mapping[str, Any]) -> LossTerm:
    """A LOSSES term from its spec, given the context entries its constructor accepts."""
    name = (
        spec if isinstance(spec, str) else (spec.get("type") if isinstance(spec, Mapping) else None)
    )
    cls = LOSSES.get(str(name)) if name is not None else None
    accepted = {}
    if cls is not None:
        params = inspect.signature(cls).parameters
        given = set(spec) if isinstance(spec, Mapping) else set()
        accepted = {k: v for k, v in context.items() if k in params and k not in given}
    return LOSSES.build(spec, **accepted)


class HashLoss(nn.Module):
    """The weighted sum of eq. 6, built from the recipe's ``loss`` section.

    The paper's three slots keep their names: weights ``alpha``, ``beta``, ``gamma`` for the
    term specs ``topo``, ``class``, ``quant`` (each a LOSSES spec; ``null`` drops the term).
    Any number of further terms go under ``terms``, each a LOSSES spec with its ``weight``::

        loss:
          alpha: 10
          topo: {type: topo, ged_norm: mean_size}
          terms:
            margin: {type: my_pkg.losses.MarginLoss, weight: 0.5, margin: 2.0}

    A term with weight 0 is still computed for logging (``loss/<name>`` in TensorBoard).
    ``context`` holds what only the trainer knows (``num_instances``, ``num_classes``,
    ``bits``); a term receives the entries its constructor names.
    """

    SLOTS = (("alpha", "topo"), ("beta", "class"), ("gamma", "quant"))

    def __init__(self, cfg: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        ctx = dict(context or {})
        self.weights: dict[str, float] = {}
        terms: dict[str, LossTerm] = {}
        for weight_key, slot in self.SLOTS:
            spec = cfg.get(slot, slot)
            if spec is None:
                continue
            terms[slot] = build_term(spec, ctx)
            self.weights[slot] = float(cfg.get(weight_key, 0.0))
        extra = cfg.get("terms") or {}
        if not isinstance(extra, Mapping):
            raise ConfigError(f"loss.terms must map names to loss specs, got {extra!r}")
        for name, spec in extra.items():
            if name in terms or name == "total":
                raise ConfigError(f"loss.terms.{name}: the name is already a loss term")
            if not isinstance(spec, Mapping) or "type" not in spec:
                raise ConfigError(f"loss.terms.{name} needs a 'type' (and a 'weight')")
            kwargs = {k: v for k, v in spec.items() if k != "weight"}
            terms[str(name)] = build_term(kwargs, ctx)
            self.weights[str(name)] = float(spec.get("weight", 1.0))
        self.terms = nn.ModuleDict(terms)

    def forward(
        self, o1: HashOutput, o2: HashOutput, batch: PairBatch
    ) -> tuple[torch.Tensor, dict[str, float]]:
        total = torch.zeros((), device=o1.activation.device)
        parts: dict[str, float] = {}
        for slot, term in self.terms.items():
            value = term(o1, o2, batch)
            parts[slot] = float(value.detach())
            if self.weights[slot] != 0.0:
                total = total + self.weights[slot] * value
        parts["total"] = float(total.detach())
        return total, parts
