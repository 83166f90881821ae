"""The worker: takes trials of a study under its lock, trains each and reports the metric.

How many trials run (the rule that makes reruns resume). A worker takes the next trial, under
a lock on the study, only while fewer than N trials are finished (complete or pruned) or
running; queued (WAITING) trials, such as retries, are taken before new ones are sampled.
Failed trials do not count. A worker that has nothing to take waits while other workers'
trials are running, so that it can take over a retry if one of them dies.

Each trial trains the sampled recipe with :class:`hnnframe.train.Trainer` and reports the
metric after every evaluation epoch, so that a pruner can stop it early.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import socket
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hnnframe.data.dataset import build_dataset
from hnnframe.errors import ConfigError, HnnError, TuneError
from hnnframe.log import get_logger
from hnnframe.recipe import dump_recipe
from hnnframe.tune.hub_metrics import HubFigures
from hnnframe.tune.optuna_import import import_optuna
from hnnframe.tune.report import format_value
from hnnframe.tune.samplers import make_pruner, make_sampler
from hnnframe.tune.settings import (
    TuneConfig,
    metric_list,
    sampled_recipe,
    training_recipe,
)
from hnnframe.tune.storage import Heartbeat, open_storage, redact, study_lock
from hnnframe.tune.trial_logging import TrialLogger

log = get_logger(__name__)

# Trial states that count towards the N trials a study should reach (with RUNNING ones).
_FINISHED = ("COMPLETE", "PRUNED")


class _TrialDied(Exception):
    """Another worker declared this trial dead (missed heartbeats); its result is void."""


def check_unseen(dataset: Any) -> None:
    """Every held-out architecture needs relatives in the training set, or its mAP is 0.

    Raises:
        ConfigError: if a held-out model is the only one of its category.
    """
    lonely = sorted({s.model for s in dataset.unseen if s.category not in dataset.categories})
    if lonely:
        raise ConfigError(
            f"held-out {', '.join(lonely)} would have no relative in the training set (its "
            "category has no other model); hold out models of larger categories"
        )


def _final_metrics(final: Mapping[str, float]) -> dict[str, float]:
    return {
        k: float(v) for k, v in final.items() if k.startswith(("val/", "unseen/", "loss/total"))
    }


class Worker:
    """Runs trials of one study until it has ``trials`` finished or running trials.

    The search space is parsed once, here; the study's signature and every trial use it.

    Args:
        cfg: the run's settings.
        index: this worker's number among the processes of one ``hnn tune --jobs J``.
        emit: where progress lines go.
    """

    def __init__(
        self, cfg: TuneConfig, index: int = 0, emit: Callable[[str], None] | None = None
    ) -> None:
        self.cfg = cfg
        self.index = index
        self.emit = emit or (lambda s: None)
        self.space = cfg.params()
        s = cfg.settings
        self.storage = open_storage(cfg.storage, s["heartbeat"], s["grace"], s["max_retry"])
        self.multi = s["objective"] == "multi"
        self.metrics = metric_list(s)
        self.metric = self.metrics[0]
        self._hub: Any = None
        self.ran: list[int] = []
        self.last_error = ""
        self._dataset: Any = None
        self.study = self._open_study()

    def _open_study(self) -> Any:
        optuna = import_optuna()
        cfg, s = self.cfg, self.cfg.settings
        sig = cfg.signature(self.space)
        existing = None
        try:
            sid = self.storage.get_study_id_from_name(cfg.study)
            existing = self.storage.get_study_user_attrs(sid).get("hnn_signature")
        except KeyError:
            pass
        if existing is not None and json.loads(json.dumps(existing)) != json.loads(json.dumps(sig)):
            diff = [k for k in sig if existing.get(k) != sig[k]]
            raise TuneError(
                f"study {cfg.study!r} in {redact(cfg.storage)} was made with another "
                f"{', '.join(diff)}; continue it with the same recipe or pick a new --study"
            )
        n_before = 0
        if existing is not None:
            n_before = len(self.storage.get_all_trials(sid, deepcopy=False))
        # Each worker's sampler gets its own seed: from the recipe, how far the study has got,
        # the worker's number and the machine, so that workers do not repeat each other's
        # random start-up trials while one worker on one machine stays reproducible.
        material = f"{s['seed']}/{n_before}/{self.index}/{socket.gethostname()}"
        seed = int.from_bytes(hashlib.sha256(material.encode()).digest()[:4], "little")
        epochs = int(cfg.recipe.get("train", {}).get("epochs", 200))
        try:
            study = optuna.create_study(
                storage=self.storage,
                study_name=cfg.study,
                directions=cfg.directions(),
                sampler=make_sampler(s["sampler"], seed),
                pruner=make_pruner(s["pruner"], epochs),
                load_if_exists=True,
            )
        except ValueError as e:
            raise TuneError(f"study {cfg.study!r}: {e}") from None
        if [d.name.lower() for d in study.directions] != cfg.directions():
            raise TuneError(
                f"study {cfg.study!r} optimises {[d.name.lower() for d in study.directions]}, "
                f"not {cfg.directions()}; pick a new --study"
            )
        if existing is None:
            study.set_user_attr("hnn_signature", sig)
            study.set_user_attr("hnn_base_recipe", training_recipe(cfg.recipe))
        return study

    # -- choosing trials
    def _next_trial(self) -> tuple[Any | None, bool]:
        """The trial to run next (None if none) and whether other trials are still running."""
        optuna = import_optuna()
        with study_lock(self.storage, self.cfg.study):
            optuna.storages.fail_stale_trials(self.study)
            trials = self.study.get_trials(deepcopy=False)
            states = [t.state.name for t in trials]
            busy = sum(st in (*_FINISHED, "RUNNING") for st in states)
            running = states.count("RUNNING") > 0
            if busy >= self.cfg.trials:
                return None, running
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                trial = self.study.ask()  # takes a WAITING trial first, else samples a new one
            # Optuna's Trial has no public id; heartbeats are keyed by it. A first heartbeat
            # now, under the lock, makes the trial detectable as dead from the start.
            self.storage.record_heartbeat(trial._trial_id)
            return trial, True

    def run(self) -> dict[str, Any]:
        """Run trials until the study has enough; returns this worker's summary."""
        failures = 0
        poll = max(1, min(int(self.cfg.settings["heartbeat"]), 10))
        while True:
            trial, running = self._next_trial()
            if trial is None:
                if running and self.cfg.wait:
                    time.sleep(poll)
                    continue
                break
            state = self._run_trial(trial)
            failures = failures + 1 if state == "FAIL" else 0
            if failures >= int(self.cfg.settings["max_failures"]):
                raise TuneError(f"{failures} trials failed in a row; the last: {self.last_error}")
        return self.summary()

    # -- one trial
    def _dataset_for(self, recipe: Mapping[str, Any]) -> Any:
        """The dataset, built once when no searched key changes it."""
        if any(p.key.startswith(("data.", "graph.")) for p in self.space):
            return None
        if self._dataset is None:
            self._dataset = build_dataset(recipe)
            check_unseen(self._dataset)
        return self._dataset

    def _run_trial(self, trial: Any) -> str:
        optuna = import_optuna()
        from hnnframe.train import Trainer

        number = trial.number
        t0 = time.perf_counter()
        params = {p.key: p.suggest(trial) for p in self.space}
        recipe = sampled_recipe(self.cfg.recipe, params)
        out = Path(self.cfg.out_dir)
        run_dir = out / f"trial_{number:04d}"
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        trial.set_user_attr("run_dir", str(run_dir.resolve()))
        shown = " ".join(f"{k}={format_value(v)}" for k, v in params.items())
        self.emit(f"trial {number} start  {shown}")
        values: Any = None
        state, note = "FAIL", ""
        try:
            with Heartbeat(self.storage, trial._trial_id, int(self.cfg.settings["heartbeat"])):
                dataset = self._dataset_for(recipe)
                logger = TrialLogger(out / "tb" / f"trial_{number:04d}", number, params)
                trainer = Trainer(
                    recipe,
                    run_dir,
                    progress=False,
                    dataset=dataset,
                    logger=logger,
                    callbacks=[self._reporter(trial)],
                )
                trial.set_user_attr("recipe", training_recipe(trainer.recipe))
                run_dir.mkdir(parents=True, exist_ok=True)
                path = run_dir / "recipe.yaml"
                dump_recipe(
                    training_recipe(trainer.recipe),
                    path,
                    command=f"hnn train {path} --out {run_dir}",
                )
                summary = trainer.fit()
                final = dict(summary["final"])
                if any(m.startswith("hub/") for m in self.metrics):
                    final.update(self._hub_figures(run_dir / "model.pt"))
                missing = [m for m in self.metrics if m not in final]
                if missing:
                    raise ConfigError(
                        f"tune.metric {missing[0]!r} was not logged; logged: "
                        f"{', '.join(sorted(k for k in final if '/' in k))}"
                    )
                got = [float(final[m]) for m in self.metrics]
                q = int(trainer.recipe.get("hash", {}).get("bits", 32))
                values = [*got, q] if self.multi else got[0]
                trial.set_user_attr("final", _final_metrics(final))
                trial.set_user_attr("epochs", int(summary["epochs"]))
                state = "COMPLETE"
        except optuna.TrialPruned as e:
            state, note = "PRUNED", str(e)
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                trial.set_user_attr("pruned", note)
        except (_TrialDied, optuna.exceptions.UpdateFinishedTrialError):
            state = "DIED"
        except HnnError as e:
            note = self.last_error = str(e)
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                trial.set_user_attr("error", note)
            log.info("trial %s failed: %s", number, e)
        except BaseException as e:
            # A bug or an interrupt: mark the trial failed so the study stays clean, then let
            # the exception through.
            with contextlib.suppress(Exception):
                trial.set_user_attr("error", f"{type(e).__name__}: {e}")
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
            raise
        return self._finish(trial, state, values, note, time.perf_counter() - t0)

    def _finish(self, trial: Any, state: str, values: Any, note: str, seconds: float) -> str:
        """Tell the study a trial's result and print it; ``DIED`` if another worker failed it."""
        optuna = import_optuna()
        number = trial.number
        if state != "DIED":
            with contextlib.suppress(Exception):
                trial.set_user_attr("seconds", round(seconds, 3))
            ts = optuna.trial.TrialState
            frozen = self.study.tell(
                trial,
                values=values if state == "COMPLETE" else None,
                state={"COMPLETE": ts.COMPLETE, "PRUNED": ts.PRUNED, "FAIL": ts.FAIL}[state],
                skip_if_finished=True,
            )
            if frozen.state.name != state:
                state = "DIED"
        if state == "DIED":
            self.emit(
                f"trial {number} was declared dead by another worker (missed heartbeats); "
                "result discarded"
            )
            return "DIED"
        self.ran.append(number)
        if state == "COMPLETE":
            vs = values if self.multi else [values]
            shown_v = "  ".join(f"{m} {v:.4f}" for m, v in zip(self.metrics, vs, strict=False))
            if self.multi:
                shown_v += f"  Q {vs[-1]}"
            self.emit(f"trial {number} done   {shown_v}  ({seconds:.0f} s)")
        elif state == "PRUNED":
            self.emit(f"trial {number} pruned {note}")
        else:
            self.emit(f"trial {number} FAILED: {note}")
        return state

    def _hub_figures(self, checkpoint: Path) -> dict[str, float]:
        """Protocol (c) figures of a trial's checkpoint; the split and copies are built once
        per worker (:class:`hnnframe.tune.hub_metrics.HubFigures`)."""
        if self._hub is None:
            self._hub = HubFigures(self.cfg.settings.get("hub") or {})
        return self._hub(checkpoint)

    def _reporter(self, trial: Any) -> Callable[[int, dict[str, float]], None]:
        optuna = import_optuna()
        metric, multi = self.metric, self.multi

        def report(epoch: int, scalars: dict[str, float]) -> None:
            if metric not in scalars:
                return  # not an evaluation epoch
            value = float(scalars[metric])
            if multi:
                # Optuna keeps no intermediate values for multi-objective trials.
                return
            if not math.isfinite(value):
                raise optuna.TrialPruned(f"{metric} is {value} at epoch {epoch}")
            try:
                trial.report(value, epoch)
            except optuna.exceptions.UpdateFinishedTrialError:
                raise _TrialDied() from None
            if trial.should_prune():
                raise optuna.TrialPruned(f"at epoch {epoch} ({metric} {value:.4f})")

        return report

    # -- results
    def summary(self) -> dict[str, Any]:
        return {
            "study": self.cfg.study,
            "storage": redact(self.cfg.storage),
            "worker": self.index,
            "ran": list(self.ran),
        }
