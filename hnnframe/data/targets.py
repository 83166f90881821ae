"""What a training pair is compared against: its GED target and its two instance ids.

Paper section 3.4: the topology loss pulls the distance of two codes towards the graph edit
distance of their graphs. GEDs of all training pairs are computed once, in parallel, and
cached on disk (:func:`hnnframe.ged.pairwise_ged`). Two settings of the recipe's ``train``
section change which pairs and which distances:

* ``partners: K`` (K > 0): every training graph gets K partners drawn once
  (:func:`hnnframe.data.pairs.partner_pool`) and GED is computed for those pairs only; all
  pairs are unaffordable on the hub corpus (docs/ged_scale.md measures it).
* ``ged_on: architectures``: the target of a pair is the distance of its two graphs'
  architectures (their originals), and 0 for two copies of one architecture: copies are
  positives, not small edits. ``copies`` (the paper) uses the GED of the two graphs.

Every training architecture is its own class for the instance-level loss terms
(:mod:`hnnframe.losses`), so the targets also carry each training graph's architecture id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hnnframe.data.dataset import GraphDataset, Sample
from hnnframe.data.pairs import partner_pool
from hnnframe.errors import ConfigError
from hnnframe.files import cache_path
from hnnframe.ged import pairwise_ged

GED_ON = ("copies", "architectures")


@dataclass(frozen=True)
class TargetConfig:
    """The recipe's ``ged`` and ``ged_cache`` entries with the ``train`` keys on targets."""

    method: str | Mapping[str, Any]  # a GED method spec (hnnframe.ged.GED_METHODS)
    cache: str  # the SQLite cache of computed distances
    jobs: int  # parallel GED workers
    on: str  # copies or architectures (module docstring)
    partners: int  # K partners per graph, 0 for every pair
    same_frac: float  # share of partners drawn from the graph's own category
    seed: int

    @classmethod
    def from_recipe(cls, recipe: Mapping[str, Any], train: Mapping[str, Any]) -> TargetConfig:
        on = train["ged_on"]
        if on not in GED_ON:
            raise ConfigError(f"train.ged_on must be copies or architectures, got {on!r}")
        return cls(
            method=recipe.get("ged", {"type": "bipartite"}),
            cache=recipe.get("ged_cache", str(cache_path("ged.sqlite"))),
            jobs=int(train["ged_jobs"]),
            on=on,
            partners=int(train["partners"]),
            same_frac=float(train["same_frac"]),
            seed=int(train["seed"]),
        )


@dataclass
class Targets:
    """Per training graph: its architecture id; per pair: the GED target (NaN: never drawn)."""

    instance: torch.Tensor  # [n] long
    num_instances: int
    ged: np.ndarray  # [n, n] float32
    pool: np.ndarray | None  # [n, K] partners, or None for every pair


def ged_targets(
    samples: Sequence[Sample], cfg: TargetConfig, pool: np.ndarray | None, progress: bool
) -> np.ndarray:
    """``[n, n]`` GED targets: every pair, or (with a partner pool) the pool's pairs only
    (the other entries are NaN and never drawn)."""
    graphs = [s.graph for s in samples]
    kw = {"method": cfg.method, "jobs": cfg.jobs, "cache": cfg.cache, "progress": progress}
    if pool is None:
        return np.asarray(pairwise_ged(graphs, **kw), dtype=np.float32)
    n = len(samples)
    i = np.repeat(np.arange(n), pool.shape[1])
    pairs = np.unique(np.sort(np.stack([i, pool.reshape(-1)], axis=1), axis=1), axis=0)
    values = pairwise_ged(graphs, pairs=[tuple(p) for p in pairs.tolist()], **kw)
    out = np.full((n, n), np.nan, dtype=np.float32)
    out[pairs[:, 0], pairs[:, 1]] = values
    out[pairs[:, 1], pairs[:, 0]] = values
    return out


def architecture_targets(
    ds: GraphDataset,
    arch_names: list[str],
    instance: np.ndarray,
    cfg: TargetConfig,
    progress: bool,
) -> np.ndarray:
    """``[n, n]`` targets from the distances between the samples' architectures."""
    graph_of = {s.model: s.graph for s in ds.originals}
    d = pairwise_ged(
        [graph_of[n] for n in arch_names],
        method=cfg.method,
        cache=cfg.cache,
        jobs=cfg.jobs,
        progress=progress,
    )
    return np.asarray(d, dtype=np.float32)[np.ix_(instance, instance)]


def build_targets(
    ds: GraphDataset, labels: np.ndarray, cfg: TargetConfig, progress: bool = True
) -> Targets:
    """The targets of ``ds.train`` (``labels``: their category ids)."""
    pool = partner_pool(labels, cfg.partners, cfg.seed, cfg.same_frac) if cfg.partners else None
    arch_names = sorted({s.model for s in ds.train})
    arch_of = {n: a for a, n in enumerate(arch_names)}
    instance = torch.tensor([arch_of[s.model] for s in ds.train], dtype=torch.long)
    if cfg.on == "architectures":
        ged = architecture_targets(ds, arch_names, instance.numpy(), cfg, progress)
    else:
        ged = ged_targets(ds.train, cfg, pool, progress)
    return Targets(instance, len(arch_names), ged, pool)
