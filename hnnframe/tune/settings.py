"""How to search: a recipe's ``tune:`` section, and the recipes a study samples and trains.

:data:`DEFAULT_TUNE` lists every key a ``tune:`` section may set. :func:`prepare_recipe` turns a
tuning recipe into the base a study samples from; :class:`TuneConfig` is everything a worker
needs, as plain data so that it crosses process boundaries.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hnnframe.errors import ConfigError
from hnnframe.recipe import get_dotted, set_dotted
from hnnframe.tune.space import Q_KEY, SearchParam, parse_search_space

#: The zoo architectures held out for the unseen-architecture metric when a recipe holds none:
#: one of every category of the zoo that has more than one architecture, so each held-out model
#: still has relatives in the training set.
DEFAULT_HOLDOUT: list[str] = [
    "resnet34",
    "vgg13",
    "densenet161",
    "mnasnet1_0",
    "shufflenet_v2_x1_5",
]

#: The recipe's ``tune:`` section, with every key a recipe may set.
DEFAULT_TUNE: dict[str, Any] = {
    # single: optimise the metric; multi: the metrics (a list is allowed) and Q (hash.bits)
    "objective": "single",
    # a scalar the Trainer logs at evaluation epochs, or a protocol (c) figure (hub/...),
    # computed on the hub corpus after training (hnnframe.protocol_c; options in tune.hub)
    "metric": "unseen/mAP",
    "holdout": DEFAULT_HOLDOUT,  # used when data.holdout is empty
    "pruner": {"type": "median", "n_startup_trials": 4, "n_warmup_steps": 10},
    "sampler": {"type": "tpe", "n_startup_trials": 5},
    "seed": 0,
    "heartbeat": 20,  # seconds between a running trial's heartbeats
    "grace": 120,  # seconds without a heartbeat after which a trial counts as dead
    "max_retry": 1,  # how often a dead trial is re-queued with the same parameters
    "max_failures": 3,  # a worker stops after this many failed trials in a row
    # protocol (c) for hub/ metrics: corpus_cache, variant_cache, transforms (default all),
    # queries_per_group (default 2), deletion_copies (default 2), holdout (default groups)
    "hub": {},
}

#: The protocol (c) figures a study may optimise (``hub/<figure>``); pairs shares are minimised.
HUB_FIGURES = ("own_top1", "own_top1_worst", "unique", "pairs_d0", "pairs_d2", "family_top1", "auc")

OBJECTIVES = ("single", "multi")


def tune_settings(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """The recipe's ``tune:`` section over :data:`DEFAULT_TUNE`, checked.

    Raises:
        ConfigError: for an unknown key or a bad value.
    """
    given = recipe.get("tune") or {}
    if not isinstance(given, Mapping):
        raise ConfigError("tune: must be a mapping")
    unknown = set(given) - set(DEFAULT_TUNE)
    if unknown:
        raise ConfigError(f"unknown tune keys: {sorted(unknown)}; valid: {sorted(DEFAULT_TUNE)}")
    cfg = {**copy.deepcopy(DEFAULT_TUNE), **copy.deepcopy(dict(given))}
    if cfg["objective"] not in OBJECTIVES:
        raise ConfigError(f"tune.objective must be one of {OBJECTIVES}, got {cfg['objective']!r}")
    metrics = cfg["metric"] if isinstance(cfg["metric"], list) else [cfg["metric"]]
    if not metrics:
        raise ConfigError("tune.metric is empty")
    for metric in metrics:
        if not isinstance(metric, str) or not metric.startswith(
            ("unseen/", "val/", "loss/", "hub/")
        ):
            raise ConfigError(
                "tune.metric must be a logged scalar such as unseen/mAP or val/mAP, or a "
                f"protocol (c) figure such as hub/unique, got {metric!r}"
            )
        if metric.startswith("hub/") and metric[4:] not in HUB_FIGURES:
            raise ConfigError(
                f"unknown protocol (c) figure {metric!r}; valid: "
                + ", ".join(f"hub/{f}" for f in HUB_FIGURES)
            )
    if len(metrics) > 1 and cfg["objective"] != "multi":
        raise ConfigError("several tune.metric values need tune.objective=multi")
    if not isinstance(cfg["hub"], Mapping):
        raise ConfigError("tune.hub must be a mapping")
    for k in ("heartbeat", "grace", "max_failures"):
        if not isinstance(cfg[k], int) or isinstance(cfg[k], bool) or cfg[k] < 1:
            raise ConfigError(f"tune.{k} must be a positive integer")
    if not isinstance(cfg["max_retry"], int) or cfg["max_retry"] < 0:
        raise ConfigError("tune.max_retry must be an integer >= 0")
    if cfg["grace"] <= cfg["heartbeat"]:
        raise ConfigError("tune.grace must be longer than tune.heartbeat")
    if not isinstance(cfg["holdout"], list):
        raise ConfigError("tune.holdout must be a list of architecture names")
    return cfg


def metric_direction(metric: str) -> str:
    """``minimize`` for losses and for shares of colliding pairs, ``maximize`` otherwise."""
    return "minimize" if metric.startswith(("loss/", "hub/pairs_")) else "maximize"


def metric_list(settings: Mapping[str, Any]) -> list[str]:
    """``tune.metric`` as a list (one entry unless a multi-objective study names several)."""
    m = settings["metric"]
    return list(m) if isinstance(m, list) else [m]


def prepare_recipe(recipe: Mapping[str, Any]) -> tuple[dict[str, Any], list[SearchParam]]:
    """Check a tuning recipe and fill in the held-out architectures.

    The recipe's ``data.holdout`` wins; if it is empty, ``tune.holdout`` (by default
    :data:`DEFAULT_HOLDOUT`) is used when the metric needs unseen architectures.

    Returns:
        The recipe to sample from, with its ``tune:`` section resolved, and the search space.

    Raises:
        ConfigError: for a bad search space or tune section, or no held-out architectures.
    """
    base = copy.deepcopy(dict(recipe))
    settings = tune_settings(base)
    base["tune"] = settings
    space = parse_search_space(base.get("search"), base)
    base.setdefault("data", {})
    if any(m.startswith("unseen/") for m in metric_list(settings)) and not base["data"].get(
        "holdout"
    ):
        base["data"]["holdout"] = list(settings["holdout"])
        if not base["data"]["holdout"]:
            raise ConfigError(
                "tuning on unseen architectures needs held-out models: set data.holdout or "
                "tune.holdout (e.g. tune.holdout=[resnet34,vgg13]), or tune.metric=val/mAP"
            )
    if settings["objective"] == "multi":
        try:
            get_dotted(base, Q_KEY)
        except ConfigError:
            base.setdefault("hash", {})["bits"] = 32
    return base, space


def sampled_recipe(base: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The recipe a trial trains: ``base`` with each dotted key set to its sampled value."""
    out = copy.deepcopy(dict(base))
    for key, value in params.items():
        set_dotted(out, key, value)
    return out


def training_recipe(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's recipe as ``hnn train`` takes it: without the search and tune sections."""
    return {k: copy.deepcopy(v) for k, v in recipe.items() if k not in ("search", "tune")}


@dataclass
class TuneConfig:
    """Everything a worker needs; plain data so that it crosses process boundaries.

    Attributes:
        recipe: the tuning recipe (with ``search`` and ``tune``), from :func:`prepare_recipe`.
        trials: the number of finished trials the study should reach.
        storage: the database URL.
        study: the study name.
        out_dir: where trials write checkpoints, TensorBoard runs and ``best.yaml``.
        jobs: worker processes on this machine.
        progress: print one line per trial on stderr.
        wait: wait for other workers' running trials before exiting.
    """

    recipe: dict[str, Any]
    trials: int
    storage: str
    study: str
    out_dir: str
    jobs: int = 1
    progress: bool = True
    wait: bool = True

    @property
    def settings(self) -> dict[str, Any]:
        return self.recipe["tune"]

    def params(self) -> list[SearchParam]:
        """The recipe's search space, parsed (a worker does this once and keeps it)."""
        return parse_search_space(self.recipe.get("search"), self.recipe)

    def directions(self) -> list[str]:
        d = [metric_direction(m) for m in metric_list(self.settings)]
        return [*d, "minimize"] if self.settings["objective"] == "multi" else d

    def signature(self, space: Sequence[SearchParam]) -> dict[str, Any]:
        """What must not change between runs of one study, given its parsed search space."""
        return {
            "search": {p.key: p.as_dict() for p in space},
            "objective": self.settings["objective"],
            "metric": self.settings["metric"],
            "holdout": sorted(self.recipe.get("data", {}).get("holdout") or []),
        }
