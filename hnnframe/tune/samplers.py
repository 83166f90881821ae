"""Optuna samplers and pruners from a recipe's ``tune.sampler`` and ``tune.pruner``."""

from __future__ import annotations

from typing import Any

from hnnframe.errors import ConfigError
from hnnframe.tune.optuna_import import import_optuna


def make_sampler(spec: Any, seed: int | None) -> Any:
    """An Optuna sampler from ``{type: tpe|random|nsgaii|gp, **kwargs}``."""
    optuna = import_optuna()
    spec = {"type": spec} if isinstance(spec, str) else dict(spec or {"type": "tpe"})
    kind = spec.pop("type", "tpe")
    classes = {
        "tpe": optuna.samplers.TPESampler,
        "random": optuna.samplers.RandomSampler,
        "nsgaii": optuna.samplers.NSGAIISampler,
        "gp": optuna.samplers.GPSampler,
    }
    if kind not in classes:
        raise ConfigError(f"tune.sampler type {kind!r}; valid: {', '.join(classes)}")
    try:
        return classes[kind](seed=seed, **spec)
    except TypeError as e:
        raise ConfigError(f"tune.sampler: {e}") from None


def make_pruner(spec: Any, epochs: int) -> Any:
    """An Optuna pruner from ``{type: median|hyperband|none, **kwargs}`` (steps are epochs)."""
    optuna = import_optuna()
    spec = {"type": spec} if isinstance(spec, str) or spec is None else dict(spec)
    kind = spec.pop("type", "median")
    try:
        if kind in ("none", None):
            return optuna.pruners.NopPruner()
        if kind == "median":
            return optuna.pruners.MedianPruner(**spec)
        if kind == "hyperband":
            spec.setdefault("min_resource", 1)
            spec.setdefault("max_resource", max(1, epochs))
            return optuna.pruners.HyperbandPruner(**spec)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"tune.pruner: {e}") from None
    raise ConfigError(f"tune.pruner type {kind!r}; valid: median, hyperband, none")
