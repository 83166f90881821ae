"""hnnframe.tune.storage: URLs, unreachable storages as one line, and the study lock."""

from __future__ import annotations

import fcntl
import time
from pathlib import Path

import pytest
from support.tune import one_line_error, run_cli

from hnnframe.errors import StorageError
from hnnframe.tune.storage import (
    lock_key,
    open_storage,
    redact,
    storage_url,
    study_lock,
    with_driver,
)


def test_urls(tmp_path: Path) -> None:
    assert storage_url(None, tmp_path / "o") == f"sqlite:///{(tmp_path / 'o' / 'study.db')}"
    assert (tmp_path / "o").is_dir()
    assert storage_url(str(tmp_path / "s.db"), ".") == f"sqlite:///{tmp_path / 's.db'}"
    assert storage_url("postgresql://h/db", ".") == "postgresql://h/db"
    assert redact("postgresql://hnn:s3cret@db:5432/hnn") == "postgresql://hnn:***@db:5432/hnn"
    assert with_driver("postgres://u@h/d").startswith(("postgresql://", "postgresql+psycopg2://"))
    assert with_driver("sqlite:///x.db") == "sqlite:///x.db"
    with pytest.raises(StorageError, match="is not a database URL"):
        open_storage("not a url")


def test_unreachable_storage_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import optuna.storages  # noqa: F401  (imported before the clock starts: only connecting counts)

    url = "postgresql://hnn:s3cret@127.0.0.1:9/nope"
    t0 = time.perf_counter()
    rc, _, err = run_cli(capsys, "tune", "report", "--storage", url, "--study", "x")
    line = one_line_error(rc, err, "cannot open study storage postgresql://hnn:***@127.0.0.1:9")
    assert "s3cret" not in line and "Connection refused" in line
    assert time.perf_counter() - t0 < 30
    rc, _, err = run_cli(
        capsys,
        "tune",
        "search_default",
        "--trials",
        "1",
        "--storage",
        url,
        "--out",
        str(tmp_path / "never"),
    )
    one_line_error(rc, err, "cannot open study storage")
    assert not (tmp_path / "never").exists()
    missing = f"sqlite:///{tmp_path}/no/such/dir/study.db"
    rc, _, err = run_cli(capsys, "tune", "report", "--storage", missing, "--study", "x")
    one_line_error(rc, err, "cannot open study storage")
    rc, _, err = run_cli(capsys, "tune", "report", "--storage", "nonsense://", "--study", "x")
    one_line_error(rc, err, "study storage")


def test_sqlite_study_lock_excludes_other_holders(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    lock_file = tmp_path / "study.db.lock"
    with study_lock(storage, "s"), open(lock_file, "a+") as other:
        # another open file (another worker) cannot take the lock while it is held
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(lock_file, "a+") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released on exit
        fcntl.flock(other, fcntl.LOCK_UN)


@pytest.mark.postgres
def test_postgres_study_lock_excludes_other_holders(postgres_url: str) -> None:
    from sqlalchemy import text

    storage = open_storage(postgres_url)
    k = lock_key("a")

    def others_can_take(key: int) -> bool:
        with storage.engine.connect() as conn:  # another session, as another worker has
            taken = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            if taken:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            return taken

    with study_lock(storage, "a"):
        assert not others_can_take(k)
        assert others_can_take(lock_key("b"))  # another study's lock is another key
    assert others_can_take(k)
