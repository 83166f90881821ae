"""Study storage: database URLs, opening an Optuna RDB storage, the study lock, heartbeats.

Storage is any database URL Optuna accepts. The default is an SQLite file beside the trials
(``OUT/study.db``); PostgreSQL lets workers on several machines share one study. Every running
trial records a heartbeat in the storage (:class:`Heartbeat`), so that a worker that died is
noticed and its trial queued again (Optuna's ``RetryHeartbeatStaleTrialCallback``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hnnframe.errors import StorageError, TuneError
from hnnframe.log import get_logger
from hnnframe.tune.optuna_import import import_optuna

log = get_logger(__name__)


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


def first_line(e: BaseException) -> str:
    """The first line of an error's message (of the DBAPI error a SQLAlchemy error wraps)."""
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
    optuna = import_optuna()
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
    backend = parsed.get_backend_name()
    kwargs = _engine_kwargs(parsed, given, connect_timeout)
    hb: dict[str, Any] = {}
    if heartbeat:
        hb = {
            "heartbeat_interval": int(heartbeat),
            "grace_period": int(grace) if grace else None,
            "heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(
                max_retry=int(max_retry or 0)
            ),
        }
    return _rdb_storage(url, given, backend, kwargs, hb)


def _engine_kwargs(parsed: Any, given: str, connect_timeout: int) -> dict[str, Any]:
    """SQLAlchemy engine arguments for the URL's backend (a SQLite file's folder must exist)."""
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
    return kwargs


def _rdb_storage(
    url: str, given: str, backend: str, kwargs: dict[str, Any], hb: dict[str, Any]
) -> Any:
    """Optuna's RDBStorage, tried again while workers race to create a fresh database."""
    optuna = import_optuna()
    import sqlalchemy.exc

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
                    f"cannot open study storage {redact(given)}: {first_line(e)}"
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
                f"cannot use study storage {redact(given)}: {first_line(e)}"
            ) from None
    assert last is not None
    raise StorageError(f"cannot open study storage {redact(given)}: {first_line(last)}")


def lock_key(study_name: str) -> int:
    """The signed 64-bit key of a study's advisory lock (PostgreSQL's lock id is a bigint)."""
    key = int.from_bytes(hashlib.sha256(f"hnn-tune/{study_name}".encode()).digest()[:8], "big")
    return key - (1 << 63) if key >= 1 << 63 else key


@contextlib.contextmanager
def study_lock(storage: Any, study_name: str) -> Iterator[None]:
    """Hold a lock on the study across workers while one decides what trial to run next.

    SQLite files are locked with ``flock`` on ``FILE.lock``; PostgreSQL with an advisory lock
    and MySQL with ``GET_LOCK``, both keyed by the study name. Other databases get no lock,
    and two workers that look at the same instant may then both start a last trial.
    """
    engine = storage.engine
    backend = engine.url.get_backend_name()
    key = lock_key(study_name)
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
    """The names of the studies a storage holds."""
    return [s.study_name for s in storage.get_all_studies()]


def load_study(storage: Any, study_name: str) -> Any:
    """Load an existing study, or fail with the names the storage holds."""
    optuna = import_optuna()
    try:
        return optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        names = study_names(storage)
        listing = ", ".join(names) if names else "none"
        raise TuneError(
            f"no study {study_name!r} in {redact(storage.url)} (studies: {listing})"
        ) from None


class Heartbeat:
    """Records a running trial's heartbeat in the storage from a background thread.

    Args:
        storage: the study's RDB storage.
        trial_id: the storage's id of the trial.
        interval: seconds between heartbeats (``tune.heartbeat``).
    """

    def __init__(self, storage: Any, trial_id: int, interval: int) -> None:
        self.storage, self.trial_id, self.interval = storage, trial_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="hnn-heartbeat")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception as e:  # a transient database error must not kill the trial
                log.warning("heartbeat of trial %s failed: %s", self.trial_id, first_line(e))

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
