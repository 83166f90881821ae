"""Optuna studies over any recipe field: search spaces, the objective, storage and reports.

A recipe's ``search:`` section maps dotted recipe keys to distributions (after PyKEEN's hpo)::

    search:
      loss.alpha: {type: float, low: 1, high: 100, log: true}
      loss.gamma: {type: float, low: 0.01, high: 2, log: true}
      hash.bits: {type: categorical, choices: [16, 32, 64]}
      train.batch_pairs: {type: int, low: 5, high: 20, step: 5}

and its ``tune:`` section (defaults in :data:`DEFAULT_TUNE`) says how to search. Each trial
trains the sampled recipe with :class:`hnnframe.train.Trainer` and reports the validation
metric after every epoch, so that a pruner can stop it early. The metric is mAP on held-out
architectures (``unseen/mAP``, protocol b): copies of architectures that were never trained on
are queried against the training set and count as relevant when they share the category. A
study then rewards generalisation to new architectures rather than memorising the zoo.

Objectives:

* ``single`` (the default): maximise the metric; pruning is on.
* ``multi``: maximise the metric and minimise Q (``hash.bits``); the result is a Pareto front.
  Optuna cannot prune multi-objective trials, so every trial runs all its epochs.

Storage is any database URL Optuna accepts. The default is an SQLite file beside the trials
(``OUT/study.db``); PostgreSQL lets workers on several machines share one study.

How many trials run (the rule that makes reruns resume). A worker takes the next trial, under
a lock on the study, only while fewer than N trials are finished (complete or pruned) or
running; queued (WAITING) trials, such as retries, are taken before new ones are sampled.
Failed trials do not count. Rerunning the same command therefore runs only the trials still
missing to reach N, and a larger N extends a study. A worker that has nothing to take waits
while other workers' trials are running, so that it can take over a retry if one of them dies.

Faults. Every running trial records a heartbeat in the storage every ``tune.heartbeat``
seconds. A trial whose heartbeat is older than ``tune.grace`` seconds (its worker was killed,
or its machine lost power) is marked FAIL by the next worker that looks, and a copy with the
same parameters is queued as a new trial, up to ``tune.max_retry`` times per original trial
(Optuna's ``RetryHeartbeatStaleTrialCallback``). Nothing else is lost: finished trials stay.

Modules: :mod:`~hnnframe.tune.space` (search spaces, the Q rule), :mod:`~hnnframe.tune.settings`
(the ``tune:`` section, the recipes a study samples, :class:`TuneConfig`),
:mod:`~hnnframe.tune.storage` (URLs, the study lock, heartbeats), :mod:`~hnnframe.tune.samplers`
(samplers and pruners), :mod:`~hnnframe.tune.trial_logging` (a trial's TensorBoard run),
:mod:`~hnnframe.tune.worker` (the worker), :mod:`~hnnframe.tune.study` (:func:`run_study`) and
:mod:`~hnnframe.tune.report` (summaries, plots, ``best.yaml``).
"""

from __future__ import annotations

from hnnframe.errors import StorageError, TuneError
from hnnframe.tune.report import (
    best_trials,
    format_summary,
    param_importances,
    report,
    study_summary,
    trial_row,
    write_best_recipe,
    write_plots,
)
from hnnframe.tune.samplers import make_pruner, make_sampler
from hnnframe.tune.settings import (
    DEFAULT_HOLDOUT,
    DEFAULT_TUNE,
    OBJECTIVES,
    TuneConfig,
    metric_direction,
    prepare_recipe,
    sampled_recipe,
    training_recipe,
    tune_settings,
)
from hnnframe.tune.space import DIST_TYPES, Q_KEY, SearchParam, parse_param, parse_search_space
from hnnframe.tune.storage import (
    Heartbeat,
    load_study,
    open_storage,
    redact,
    storage_url,
    study_lock,
    study_names,
    with_driver,
)
from hnnframe.tune.study import run_study
from hnnframe.tune.trial_logging import TrialLogger
from hnnframe.tune.worker import Worker, check_unseen

__all__ = [
    "DEFAULT_HOLDOUT",
    "DEFAULT_TUNE",
    "DIST_TYPES",
    "OBJECTIVES",
    "Q_KEY",
    "Heartbeat",
    "SearchParam",
    "StorageError",
    "TrialLogger",
    "TuneConfig",
    "TuneError",
    "Worker",
    "best_trials",
    "check_unseen",
    "format_summary",
    "load_study",
    "make_pruner",
    "make_sampler",
    "metric_direction",
    "open_storage",
    "param_importances",
    "parse_param",
    "parse_search_space",
    "prepare_recipe",
    "redact",
    "report",
    "run_study",
    "sampled_recipe",
    "storage_url",
    "study_lock",
    "study_names",
    "study_summary",
    "training_recipe",
    "trial_row",
    "tune_settings",
    "with_driver",
    "write_best_recipe",
    "write_plots",
]
