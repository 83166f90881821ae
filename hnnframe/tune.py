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
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import hashlib
import json
import math
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hnnframe.errors import ConfigError, HnnError
from hnnframe.log import get_logger
from hnnframe.recipe import dump_recipe, get_dotted, set_dotted

log = get_logger(__name__)


class TuneError(HnnError):
    """A study cannot be created, loaded, continued or reported."""


class StorageError(TuneError):
    """A study storage URL is malformed, unreachable or of an incompatible schema."""


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
    "objective": "single",  # single: max metric; multi: max metric and min Q (hash.bits)
    "metric": "unseen/mAP",  # a scalar the Trainer logs at evaluation epochs
    "holdout": DEFAULT_HOLDOUT,  # used when data.holdout is empty
    "pruner": {"type": "median", "n_startup_trials": 4, "n_warmup_steps": 10},
    "sampler": {"type": "tpe", "n_startup_trials": 5},
    "seed": 0,
    "heartbeat": 20,  # seconds between a running trial's heartbeats
    "grace": 120,  # seconds without a heartbeat after which a trial counts as dead
    "max_retry": 1,  # how often a dead trial is re-queued with the same parameters
    "max_failures": 3,  # a worker stops after this many failed trials in a row
}

OBJECTIVES = ("single", "multi")
Q_KEY = "hash.bits"
DIST_TYPES = ("float", "int", "categorical")
_DIST_FIELDS = {
    "float": {"type", "low", "high", "log", "step"},
    "int": {"type", "low", "high", "log", "step"},
    "categorical": {"type", "choices"},
}
# Keys that exist with a default even when a recipe leaves them out.
_IMPLICIT_KEYS = ("train.",)
_FINISHED = ("COMPLETE", "PRUNED")


def _optuna() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


# -- search spaces --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchParam:
    """One searched recipe key and its distribution.

    Attributes:
        key: the dotted recipe key, which is also the Optuna parameter name.
        type: ``float``, ``int`` or ``categorical``.
        low: lower bound (float, int).
        high: upper bound, inclusive (float, int).
        log: sample on a log scale (float, int).
        step: discretisation step (float, int); exclusive with ``log`` for floats.
        choices: the values of a categorical parameter (scalars only).
    """

    key: str
    type: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    def distribution(self) -> Any:
        """The equivalent ``optuna.distributions`` object."""
        import optuna.distributions as d

        if self.type == "float":
            return d.FloatDistribution(float(self.low), float(self.high), log=self.log,  # type: ignore[arg-type]
                                       step=None if self.step is None else float(self.step))  # fmt: skip
        if self.type == "int":
            return d.IntDistribution(int(self.low), int(self.high), log=self.log,  # type: ignore[arg-type]
                                     step=int(self.step or 1))  # fmt: skip
        return d.CategoricalDistribution(list(self.choices))

    def suggest(self, trial: Any) -> Any:
        """Sample this parameter in an Optuna trial."""
        if self.type == "float":
            return trial.suggest_float(self.key, self.low, self.high, log=self.log, step=self.step)
        if self.type == "int":
            return trial.suggest_int(self.key, self.low, self.high, log=self.log,
                                     step=int(self.step or 1))  # fmt: skip
        return trial.suggest_categorical(self.key, list(self.choices))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type == "categorical":
            out["choices"] = list(self.choices)
        else:
            out.update(low=self.low, high=self.high, log=self.log)
            if self.step is not None:
                out["step"] = self.step
        return out


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _all_keys(cfg: Any, prefix: str = "") -> list[str]:
    if isinstance(cfg, Mapping):
        out = []
        for k, v in cfg.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            out.append(key)
            out += _all_keys(v, key)
        return out
    return []


def parse_param(key: str, spec: Any, recipe: Mapping[str, Any] | None = None) -> SearchParam:
    """Check one ``search:`` entry and turn it into a :class:`SearchParam`.

    Args:
        key: the dotted recipe key.
        spec: ``{type, low, high, log, step}`` or ``{type: categorical, choices}``; a plain list
            is shorthand for a categorical.
        recipe: when given, ``key`` must exist in it (``train.*`` keys may be implicit) and
            hold a value of a fitting kind.

    Raises:
        ConfigError: for an unknown key or a malformed distribution.
    """
    where = f"search.{key}"
    if not isinstance(key, str) or not key or key.startswith(".") or key.endswith("."):
        raise ConfigError(f"search key {key!r} is not a dotted recipe key")
    if isinstance(spec, list):
        spec = {"type": "categorical", "choices": spec}
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: expected {{type, low, high, ...}} or a list, got {spec!r}")
    kind = spec.get("type")
    if kind not in DIST_TYPES:
        raise ConfigError(f"{where}: type must be one of {', '.join(DIST_TYPES)}, got {kind!r}")
    extra = set(spec) - _DIST_FIELDS[kind]
    if extra:
        raise ConfigError(
            f"{where}: unknown field(s) {sorted(extra)} for type {kind}; "
            f"valid: {sorted(_DIST_FIELDS[kind])}"
        )
    current: Any = None
    if recipe is not None:
        try:
            current = get_dotted(recipe, key)
        except (ConfigError, IndexError, ValueError):
            if not key.startswith(_IMPLICIT_KEYS):
                close = difflib.get_close_matches(key, _all_keys(recipe), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(
                    f"{where}: unknown recipe key {key!r} (a searched key must exist in the "
                    f"recipe){hint}"
                ) from None
        if key.startswith("train.") and key.count(".") == 1:
            from hnnframe.train import DEFAULT_TRAIN

            if key.split(".", 1)[1] not in DEFAULT_TRAIN:
                raise ConfigError(
                    f"{where}: unknown train key; valid: {', '.join(sorted(DEFAULT_TRAIN))}"
                )
        if isinstance(current, Mapping):
            raise ConfigError(f"{where}: {key!r} is a section; search one of its fields")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: categorical needs a non-empty list 'choices'")
        bad = [c for c in choices if not (c is None or isinstance(c, (bool, int, float, str)))]
        if bad:
            raise ConfigError(f"{where}: choices must be scalars (number, string, bool, null)")
        if len(set(map(repr, choices))) != len(choices):
            raise ConfigError(f"{where}: choices repeat a value")
        p = SearchParam(key, kind, choices=tuple(choices))
    else:
        low, high = spec.get("low"), spec.get("high")
        if not _is_number(low) or not _is_number(high):
            raise ConfigError(f"{where}: {kind} needs numbers 'low' and 'high'")
        if low > high:
            raise ConfigError(f"{where}: low {low} is above high {high}")
        use_log = spec.get("log", False)
        if not isinstance(use_log, bool):
            raise ConfigError(f"{where}: log must be true or false")
        step = spec.get("step")
        if step is not None and (not _is_number(step) or step <= 0):
            raise ConfigError(f"{where}: step must be a positive number")
        if use_log and low <= 0:
            raise ConfigError(f"{where}: a log scale needs low > 0")
        if kind == "int":
            if not all(isinstance(v, int) for v in (low, high)) or (
                step is not None and not isinstance(step, int)
            ):
                raise ConfigError(f"{where}: int bounds and step must be integers")
            if use_log and step not in (None, 1):
                raise ConfigError(f"{where}: an int log scale needs step 1")
        elif use_log and step is not None:
            raise ConfigError(f"{where}: log and step cannot be combined for floats")
        p = SearchParam(key, kind, low=low, high=high, log=use_log, step=step)
        if recipe is not None and current is not None and not _is_number(current):
            raise ConfigError(f"{where}: {key!r} holds {current!r}, not a number")
    if key == Q_KEY:
        _check_q(p, where)
    return p


def _check_q(p: SearchParam, where: str) -> None:
    if p.type == "categorical":
        bad = [c for c in p.choices if not (isinstance(c, int) and c > 0 and c % 8 == 0)]
    elif p.type == "int":
        step = int(p.step or 1)
        bad = [] if (int(p.low) > 0 and int(p.low) % 8 == 0 and step % 8 == 0) else [p.low, step]  # type: ignore[arg-type]
    else:
        bad = ["float"]
    if bad:
        raise ConfigError(
            f"{where}: Q must be a positive multiple of 8; use choices like [16, 32, 64] or an "
            "int range with low and step multiples of 8"
        )


def parse_search_space(search: Any, recipe: Mapping[str, Any] | None = None) -> list[SearchParam]:
    """Check a ``search:`` section and return its parameters in order.

    Raises:
        ConfigError: if the section is missing, empty, or has a bad key or distribution.
    """
    if not search:
        raise ConfigError(
            "the recipe has no search: section (dotted recipe keys -> distributions); "
            "see recipes/search_default.yaml or pass --space search_default"
        )
    if not isinstance(search, Mapping):
        raise ConfigError(f"search: must map dotted recipe keys to distributions, got {search!r}")
    return [parse_param(str(k), v, recipe) for k, v in search.items()]


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
    metric = cfg["metric"]
    if not isinstance(metric, str) or not metric.startswith(("unseen/", "val/", "loss/")):
        raise ConfigError(
            f"tune.metric must be a logged scalar such as unseen/mAP or val/mAP, got {metric!r}"
        )
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
    """``minimize`` for losses, ``maximize`` for retrieval metrics."""
    return "minimize" if metric.startswith("loss/") else "maximize"


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
    if settings["metric"].startswith("unseen/") and not base["data"].get("holdout"):
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


# -- storage --------------------------------------------------------------------------------------
def redact(url: str) -> str:
    """A storage URL without its password."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def storage_url(storage: str | None, out_dir: str | os.PathLike[str]) -> str:
    """A database URL: ``storage`` as given, a bare path as SQLite, or ``OUT/study.db``."""
    if not storage:
        path = Path(out_dir) / "study.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path.resolve()}"
    if "://" not in storage:
        return f"sqlite:///{Path(storage).resolve()}"
    return storage


def with_driver(url: str) -> str:
    """``postgresql://`` with the PostgreSQL driver that is installed.

    SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3; hnnframe depends on
    psycopg2, so a bare URL gets ``+psycopg2`` unless psycopg 3 is importable. ``postgres://``
    is read as ``postgresql://``.
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        import importlib.util

        if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
            url = "postgresql+psycopg2://" + url[len("postgresql://") :]
    return url


def _first_line(e: BaseException) -> str:
    orig = getattr(e, "orig", None)
    text = str(orig if orig is not None else e).strip() or type(e).__name__
    return text.splitlines()[0].strip()


def open_storage(
    url: str,
    heartbeat: int | None = None,
    grace: int | None = None,
    max_retry: int | None = None,
    connect_timeout: int = 10,
) -> Any:
    """Open an Optuna RDB storage, with heartbeats and retries of dead trials when asked.

    Args:
        url: a SQLAlchemy database URL (``sqlite:///file.db``, ``postgresql://u:p@host/db``).
        heartbeat: seconds between heartbeats of running trials; ``None`` turns them off.
        grace: seconds without a heartbeat after which a running trial counts as dead.
        max_retry: how often a dead trial is re-queued; ``None`` with ``heartbeat`` set means 0.
        connect_timeout: seconds to wait for a database server.

    Raises:
        StorageError: one line saying why the storage cannot be used.
    """
    optuna = _optuna()
    import sqlalchemy.exc
    from sqlalchemy.engine import make_url

    given, url = url, with_driver(url)
    try:
        parsed = make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise StorageError(
            f"{url!r} is not a database URL (e.g. sqlite:///study.db, "
            "postgresql://user:password@host/db)"
        ) from None
    kwargs: dict[str, Any] = {}
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        kwargs["connect_args"] = {"timeout": 60}
        db = parsed.database
        if db and db != ":memory:" and not Path(db).parent.is_dir():
            raise StorageError(
                f"cannot open study storage {redact(given)}: no directory {Path(db).parent}"
            )
    elif backend in ("postgresql", "mysql"):
        kwargs["connect_args"] = {"connect_timeout": connect_timeout}
        kwargs["pool_pre_ping"] = True
    hb: dict[str, Any] = {}
    if heartbeat:
        hb = {
            "heartbeat_interval": int(heartbeat),
            "grace_period": int(grace) if grace else None,
            "heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(
                max_retry=int(max_retry or 0)
            ),
        }
    last: BaseException | None = None
    for attempt in range(4):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs, **hb)
        except sqlalchemy.exc.SQLAlchemyError as e:
            # Workers that create the tables of a fresh database at the same moment collide
            # ("already exists", a unique violation in the catalog); a second try finds them.
            racing = isinstance(e, (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError))
            if not (racing or "already exists" in str(e)):
                raise StorageError(
                    f"cannot open study storage {redact(given)}: {_first_line(e)}"
                ) from None
            last = e
            time.sleep(0.5 * (attempt + 1))
        except (ImportError, ModuleNotFoundError):
            hint = {"mysql": "pymysql, and write mysql+pymysql://", "postgresql": "psycopg2-binary"}
            raise StorageError(
                f"cannot open study storage {redact(given)}: no {backend} driver is installed "
                f"(pip install {hint.get(backend, 'the driver SQLAlchemy names for it')})"
            ) from None
        except (RuntimeError, ValueError) as e:
            raise StorageError(
                f"cannot use study storage {redact(given)}: {_first_line(e)}"
            ) from None
    assert last is not None
    raise StorageError(f"cannot open study storage {redact(given)}: {_first_line(last)}")


@contextlib.contextmanager
def study_lock(storage: Any, study_name: str) -> Iterator[None]:
    """Hold a lock on the study across workers while one decides what trial to run next.

    SQLite files are locked with ``flock`` on ``FILE.lock``; PostgreSQL with an advisory lock
    and MySQL with ``GET_LOCK``, both keyed by the study name. Other databases get no lock,
    and two workers that look at the same instant may then both start a last trial.
    """
    engine = storage.engine
    backend = engine.url.get_backend_name()
    key = int.from_bytes(hashlib.sha256(f"hnn-tune/{study_name}".encode()).digest()[:8], "big")
    key -= 1 << 63 if key >= 1 << 63 else 0
    if backend == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        import fcntl

        with open(f"{engine.url.database}.lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return
    if backend in ("postgresql", "mysql"):
        from sqlalchemy import text

        lock, unlock = (
            ("SELECT pg_advisory_lock(:k)", "SELECT pg_advisory_unlock(:k)")
            if backend == "postgresql"
            else ("SELECT GET_LOCK(:k, 600)", "SELECT RELEASE_LOCK(:k)")
        )
        k: Any = key if backend == "postgresql" else f"hnn-tune-{key}"
        with engine.connect() as conn:
            conn.execute(text(lock), {"k": k})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text(unlock), {"k": k})
                conn.commit()
        return
    yield


def study_names(storage: Any) -> list[str]:
    return [s.study_name for s in storage.get_all_studies()]


def load_study(storage: Any, study_name: str) -> Any:
    """Load an existing study, or fail with the names the storage holds."""
    optuna = _optuna()
    try:
        return optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        names = study_names(storage)
        listing = ", ".join(names) if names else "none"
        raise TuneError(
            f"no study {study_name!r} in {redact(storage.url)} (studies: {listing})"
        ) from None


# -- the objective --------------------------------------------------------------------------------
class _Heartbeat:
    """Records a running trial's heartbeat in the storage from a background thread."""

    def __init__(self, storage: Any, trial_id: int, interval: int) -> None:
        self.storage, self.trial_id, self.interval = storage, trial_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="hnn-heartbeat")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception as e:  # a transient database error must not kill the trial
                log.warning("heartbeat of trial %s failed: %s", self.trial_id, _first_line(e))

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


class _TrialLogger:
    """A TensorBoard run per trial whose HParams entry is written even when it is pruned."""

    def __init__(self, log_dir: Path, trial_number: int, params: Mapping[str, Any]) -> None:
        from hnnframe.metric_logging import TensorBoardLogger

        self._tb = TensorBoardLogger(log_dir)
        self.number = trial_number
        self.params = dict(params)
        self.last: dict[str, float] = {}
        self.state = "pruned"
        self._hparams_done = False

    def log(self, name: str, value: float, step: int) -> None:
        self._tb.log(name, value, step)

    def log_dict(self, values: Mapping[str, float], step: int) -> None:
        self._tb.log_dict(values, step)
        self.last.update({k: float(v) for k, v in values.items()})
        self.last["epochs"] = float(step)

    def log_config(self, config: Mapping[str, Any]) -> None:
        self._tb.log_config(config)

    def log_histogram(self, name: str, values: Any, step: int) -> None:
        self._tb.log_histogram(name, values, step)

    def log_embedding(self, emb: Any, labels: list[list[str]], header: list[str]) -> None:
        self._tb.log_embedding(emb, labels, header)

    def log_hparams(self, hparams: Mapping[str, Any], metrics: Mapping[str, float]) -> None:
        self.state = "complete"
        self._write_hparams(hparams)

    def _write_hparams(self, hparams: Mapping[str, Any]) -> None:
        self._hparams_done = True
        hp = {**hparams, **self.params, "trial": self.number, "state": self.state}
        self._tb.log_hparams(
            hp, {f"hparam/{k}": v for k, v in self.last.items() if "/" in k or k == "epochs"}
        )

    def close(self) -> None:
        if not self._hparams_done:
            self._write_hparams(self.params)
        self._tb.close()


class _TrialDied(Exception):
    """Another worker declared this trial dead (missed heartbeats); its result is void."""


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
        return parse_search_space(self.recipe.get("search"), self.recipe)

    def directions(self) -> list[str]:
        d = metric_direction(self.settings["metric"])
        return [d, "minimize"] if self.settings["objective"] == "multi" else [d]

    def signature(self) -> dict[str, Any]:
        """What must not change between runs of one study."""
        return {
            "search": {p.key: p.as_dict() for p in self.params()},
            "objective": self.settings["objective"],
            "metric": self.settings["metric"],
            "holdout": sorted(self.recipe.get("data", {}).get("holdout") or []),
        }


def make_sampler(spec: Any, seed: int | None) -> Any:
    """An Optuna sampler from ``{type: tpe|random|nsgaii|gp, **kwargs}``."""
    optuna = _optuna()
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
    optuna = _optuna()
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


def _counts(trials: Sequence[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in trials:
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


class Worker:
    """Runs trials of one study until it has ``trials`` finished or running trials.

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
        self.metric = s["metric"]
        self.ran: list[int] = []
        self.last_error = ""
        self._dataset: Any = None
        self.study = self._open_study()

    def _open_study(self) -> Any:
        optuna = _optuna()
        cfg, s = self.cfg, self.cfg.settings
        sig = cfg.signature()
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
        optuna = _optuna()
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
            from hnnframe.data.dataset import build_dataset

            self._dataset = build_dataset(recipe)
            check_unseen(self._dataset)
        return self._dataset

    def _run_trial(self, trial: Any) -> str:
        optuna = _optuna()
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
        shown = " ".join(f"{k}={_fmt(v)}" for k, v in params.items())
        self.emit(f"trial {number} start  {shown}")
        values: Any = None
        state, note = "FAIL", ""
        try:
            with _Heartbeat(self.storage, trial._trial_id, int(self.cfg.settings["heartbeat"])):
                dataset = self._dataset_for(recipe)
                logger = _TrialLogger(out / "tb" / f"trial_{number:04d}", number, params)
                trainer = Trainer(recipe, run_dir, progress=False, dataset=dataset,
                                  logger=logger, callbacks=[self._reporter(trial)])  # fmt: skip
                trial.set_user_attr("recipe", training_recipe(trainer.recipe))
                run_dir.mkdir(parents=True, exist_ok=True)
                dump_recipe(training_recipe(trainer.recipe), run_dir / "recipe.yaml",
                            command=f"hnn train {run_dir / 'recipe.yaml'} --out {run_dir}")  # fmt: skip
                summary = trainer.fit()
                final = summary["final"]
                if self.metric not in final:
                    raise ConfigError(
                        f"tune.metric {self.metric!r} was not logged; logged: "
                        f"{', '.join(sorted(k for k in final if '/' in k))}"
                    )
                value = float(final[self.metric])
                q = int(trainer.recipe.get("hash", {}).get("bits", 32))
                values = [value, q] if self.multi else value
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
        seconds = time.perf_counter() - t0
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
                f"trial {number} was declared dead by another worker (missed heartbeats); result discarded"
            )
            return "DIED"
        self.ran.append(number)
        if state == "COMPLETE":
            shown_v = (
                f"{self.metric} {values[0]:.4f}  Q {values[1]}"
                if self.multi
                else f"{self.metric} {values:.4f}"
            )
            self.emit(f"trial {number} done   {shown_v}  ({seconds:.0f} s)")
        elif state == "PRUNED":
            self.emit(f"trial {number} pruned {note}")
        else:
            self.emit(f"trial {number} FAILED: {note}")
        return state

    def _reporter(self, trial: Any) -> Callable[[int, dict[str, float]], None]:
        optuna = _optuna()
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


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _worker_main(cfg_dict: dict[str, Any], index: int) -> dict[str, Any]:
    """Entry point of a ``--jobs`` worker process."""
    import sys

    cfg = TuneConfig(**cfg_dict)
    from hnnframe.train import DEFAULT_TRAIN

    threads = int(cfg.recipe.get("train", {}).get("threads", DEFAULT_TRAIN["threads"]))
    if threads == 0:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(cfg.jobs, 1)))

    def emit(line: str) -> None:
        print(f"[w{index}] {line}", file=sys.stderr, flush=True)

    worker = Worker(cfg, index, emit if cfg.progress else None)
    return worker.run()


def run_study(cfg: TuneConfig, emit: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run (or continue) a study with ``cfg.jobs`` worker processes; returns its summary.

    With one job the worker runs in this process. With more, each job is a fresh process
    (spawned, not forked) that shares the study through the storage like a remote worker.

    Raises:
        TuneError: for storage or study problems; ConfigError for a bad recipe.
    """
    out = Path(cfg.out_dir)
    # Open the storage and the study once here: a bad URL or a changed search space fails
    # before any worker starts, and the data are checked once.
    first = Worker(cfg, 0, emit)
    out.mkdir(parents=True, exist_ok=True)
    if first._dataset_for(cfg.recipe) is None:  # searched data: check the base recipe's
        from hnnframe.data.dataset import build_dataset

        check_unseen(build_dataset(cfg.recipe))
    if cfg.jobs <= 1:
        ran = first.run()["ran"]
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ran = []
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(max_workers=cfg.jobs, mp_context=ctx) as pool:
            futs = [pool.submit(_worker_main, cfg.__dict__, i) for i in range(cfg.jobs)]
            for f in futs:
                ran += f.result()["ran"]
    return {
        **study_summary(first.study, cfg.settings["metric"]),
        "ran": sorted(ran),
        "trials_requested": cfg.trials,
        "storage": redact(cfg.storage),
        "out": str(out),
        "best_recipe": write_best_recipe(first.study, out / "best.yaml"),
    }


# -- reports --------------------------------------------------------------------------------------
def _metric_of(study: Any) -> str:
    sig = study.user_attrs.get("hnn_signature") or {}
    return str(sig.get("metric", "value"))


def trial_row(t: Any) -> dict[str, Any]:
    """One trial as plain data."""
    return {
        "number": t.number,
        "state": t.state.name,
        "values": list(t.values) if t.values is not None else None,
        "params": dict(t.params),
        "epochs": t.user_attrs.get("epochs")
        or (max(t.intermediate_values) if t.intermediate_values else None),
        "seconds": t.user_attrs.get("seconds"),
        "final": t.user_attrs.get("final", {}),
        "host": t.user_attrs.get("host"),
        "retry_of": t.system_attrs.get("failed_trial"),
    }


def best_trials(study: Any, top: int = 5) -> list[Any]:
    """Single objective: the ``top`` complete trials, best first. Multi: the Pareto front."""
    if len(study.directions) > 1:
        return sorted(study.best_trials, key=lambda t: (-t.values[0], t.values[1]))
    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    sign = -1 if study.direction.name == "MAXIMIZE" else 1
    return sorted(done, key=lambda t: (sign * t.value, t.number))[:top]


def study_summary(study: Any, metric: str | None = None, top: int = 5) -> dict[str, Any]:
    """Counts by state, the best trials (or the Pareto front) and the directions."""
    trials = study.get_trials(deepcopy=False)
    best = best_trials(study, top)
    return {
        "study": study.study_name,
        "metric": metric or _metric_of(study),
        "objective": "multi" if len(study.directions) > 1 else "single",
        "directions": [d.name.lower() for d in study.directions],
        "trials": len(trials),
        "states": _counts(trials),
        "best": [trial_row(t) for t in best],
    }


def write_best_recipe(study: Any, path: str | os.PathLike[str]) -> str | None:
    """Write the best trial's resolved recipe as YAML that ``hnn train`` accepts unchanged.

    In multi-objective mode this is the Pareto trial with the highest metric. Returns the path,
    or None when no trial has completed.
    """
    best = best_trials(study, 1)
    if not best:
        return None
    t = best[0]
    recipe = t.user_attrs.get("recipe")
    if not recipe:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recipe = dict(recipe)
    recipe["name"] = f"{study.study_name}_best"
    values = ", ".join(_fmt(v) for v in t.values)
    out = f"runs/{study.study_name}_best"
    text = dump_recipe(recipe, None, command=f"hnn train {path} --out {out}")
    head, rest = text.split("\n", 1)
    path.write_text(
        f"{head}\n# best trial {t.number} of Optuna study {study.study_name!r}: "
        f"{_metric_of(study)} = {values}\n{rest}"
    )
    return str(path)


def _plot(fn: Callable[..., Any], path: Path, **kw: Any) -> str | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ax = fn(**kw)
    except (ValueError, RuntimeError, ZeroDivisionError) as e:
        log.warning("skipped %s: %s", path.name, _first_line(e))
        return None
    fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
    fig.set_size_inches(7, 4.5)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def write_plots(
    study: Any, out_dir: str | os.PathLike[str], fmt: str = "png", prefix: str = ""
) -> dict[str, str]:
    """Optuna's optimisation-history and parameter-importance plots (and the Pareto front).

    Args:
        study: the study.
        out_dir: the folder the files go to.
        fmt: ``png`` (optuna.visualization.matplotlib) or ``html`` (plotly, needs plotly).
        prefix: a prefix for the file names.

    Returns:
        Plot name -> written file; plots that need more complete trials are left out.
    """
    _optuna()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metric = _metric_of(study)
    multi = len(study.directions) > 1
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    target = (lambda t: t.values[0]) if multi else None
    kw = {"target": target, "target_name": metric} if multi else {"target_name": metric}
    plots: dict[str, tuple[str, dict[str, Any]]] = {
        "history": ("plot_optimization_history", kw),
        "importance": ("plot_param_importances", kw),
    }
    if multi:
        plots["pareto"] = ("plot_pareto_front", {"target_names": [metric, "Q"]})
    written: dict[str, str] = {}
    if fmt == "png":
        import optuna.visualization.matplotlib as vis

        for name, (fn, extra) in plots.items():
            if name == "importance" and len(complete) < 2:
                continue
            p = _plot(getattr(vis, fn), out / f"{prefix}{name}.png", study=study, **extra)
            if p:
                written[name] = p
        return written
    if fmt == "html":
        try:
            import optuna.visualization as vis_html
            import plotly  # noqa: F401
        except ImportError:
            raise TuneError(
                "--plots html needs plotly (pip install plotly); use --plots png"
            ) from None
        for name, (fn, extra) in plots.items():
            if name == "importance" and len(complete) < 2:
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fig = getattr(vis_html, fn)(study=study, **extra)
            except (ValueError, RuntimeError, ZeroDivisionError) as e:
                log.warning("skipped %s: %s", name, _first_line(e))
                continue
            p = out / f"{prefix}{name}.html"
            fig.write_html(str(p))
            written[name] = str(p)
        return written
    raise TuneError(f"unknown plot format {fmt!r}; use png or html")


def param_importances(study: Any) -> dict[str, float]:
    """Parameter importances for the (first) objective; empty if too few trials.

    Optuna's default evaluator (PED-ANOVA in Optuna 5) is deterministic, so a report prints the
    same numbers every time; fANOVA would need scikit-learn.
    """
    optuna = _optuna()
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(complete) < 2:
        return {}
    target = (lambda t: t.values[0]) if len(study.directions) > 1 else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            imp = optuna.importance.get_param_importances(study, target=target)
    except (ValueError, RuntimeError, ZeroDivisionError):
        return {}
    return {k: float(v) for k, v in imp.items()}


def report(
    storage: str,
    study_name: str,
    out_dir: str | os.PathLike[str],
    top: int = 5,
    plots: str = "png",
) -> dict[str, Any]:
    """Summarise a study: best trials (or Pareto front), importances, plots and best.yaml.

    Raises:
        StorageError: when the storage cannot be opened; TuneError when the study is absent.
    """
    st = open_storage(storage)
    study = load_study(st, study_name)
    out = Path(out_dir)
    summary = study_summary(study, top=top)
    summary["importances"] = param_importances(study)
    summary["plots"] = write_plots(study, out, plots) if plots != "none" else {}
    summary["best_recipe"] = write_best_recipe(study, out / "best.yaml")
    summary["storage"] = redact(storage)
    summary["dashboard"] = f"optuna-dashboard {redact(storage)}"
    return summary


def format_summary(summary: Mapping[str, Any]) -> str:
    """A study summary as the table ``hnn tune`` and ``hnn tune report`` print."""
    lines = []
    states = ", ".join(f"{v} {k.lower()}" for k, v in sorted(summary["states"].items()))
    lines.append(f"study {summary['study']}: {summary['trials']} trials ({states or 'none'})")
    multi = summary["objective"] == "multi"
    metric = summary["metric"]
    best = summary["best"]
    if not best:
        lines.append("no complete trial yet")
        return "\n".join(lines)
    keys = sorted({k for r in best for k in r["params"]} - ({Q_KEY} if multi else set()))
    # The other protocol's mAP, for context (protocol a when the metric is protocol b).
    other = "val/mAP" if metric.startswith("unseen/") else "unseen/mAP"
    show_other = any(other in (r.get("final") or {}) for r in best)
    title = f"Pareto front (max {metric}, min Q)" if multi else f"best trials by {metric}"
    lines.append(title + ":")
    head = ["trial", metric] + (["Q"] if multi else []) + ([other] if show_other else [])
    head += ["epochs", *keys]
    rows = []
    for r in best:
        vals = r["values"] or []
        row = [str(r["number"]), f"{vals[0]:.4f}" if vals else "-"]
        if multi:
            row.append(str(int(vals[1])) if len(vals) > 1 else "-")
        if show_other:
            o = (r.get("final") or {}).get(other)
            row.append("-" if o is None else f"{o:.4f}")
        row.append(str(r.get("epochs") or "-"))
        row += [_fmt(r["params"].get(k, "-")) for k in keys]
        rows.append(row)
    widths = [max(len(h), *(len(x[i]) for x in rows)) for i, h in enumerate(head)]
    for row in [head, *rows]:
        lines.append(
            ("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))).rstrip()
        )
    imp = summary.get("importances")
    if imp:
        lines.append("importance: " + ", ".join(f"{k} {v:.2f}" for k, v in imp.items()))
    return "\n".join(lines)
