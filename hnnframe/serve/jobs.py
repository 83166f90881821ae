"""Jobs: large uploads checked or added in the background, ``POST /v1/jobs`` then ``GET
/v1/jobs/{id}``.

A job is one JSON file under ``DATA_DIR/jobs`` written atomically at every step, so any worker
answers for any job, and a job whose worker died (its process is gone while the job says it is
running) is reported as failed instead of running for ever.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hnnframe.files import atomic_write
from hnnframe.log import get_logger

log = get_logger(__name__)

#: What a job's function returns: the HTTP status and body of the answer it stands for.
Outcome = tuple[int, Any]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Jobs:
    """The jobs of a deployment (shared folder) run by this worker's threads.

    Args:
        folder: ``DATA_DIR/jobs``.
        threads: Jobs this worker runs at once.
    """

    def __init__(self, folder: Path, threads: int = 1) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="hnn-job")

    def _path(self, job_id: str) -> Path:
        return self.folder / f"{job_id}.json"

    def _write(self, job: dict[str, Any]) -> None:
        job["updated_at"] = time.time()
        atomic_write(self._path(job["id"]), json.dumps(job).encode())

    def submit(
        self, action: str, upload: str, work: Callable[[], Outcome], cleanup: Callable[[], None]
    ) -> dict[str, Any]:
        """Queue ``work`` (which answers like the synchronous endpoint would); the job."""
        job = {
            "id": uuid.uuid4().hex,
            "action": action,
            "upload": upload,
            "state": "queued",
            "stage": "queued",
            "pid": os.getpid(),
            "created_at": time.time(),
            "status_code": None,
            "result": None,
            "detail": None,
        }
        self._write(job)
        self.pool.submit(self._run, job, work, cleanup)
        return job

    def _run(
        self, job: dict[str, Any], work: Callable[[], Outcome], cleanup: Callable[[], None]
    ) -> None:
        job.update(state="running", stage="hashing and reading weights")
        self._write(job)
        try:
            status, body = work()
        except Exception as e:  # the job records it; the worker goes on
            log.exception("job %s failed", job["id"])
            status, body = 500, {"detail": f"internal error ({type(e).__name__})"}
        finally:
            cleanup()
        ok = status < 400
        job.update(
            state="done" if ok else "failed",
            stage="done",
            status_code=status,
            result=body if ok else None,
            detail=None if ok else (body or {}).get("detail"),
        )
        self._write(job)

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The job, or ``None`` when there is no such job."""
        if not job_id.isalnum():
            return None
        try:
            job = json.loads(self._path(job_id).read_text())
        except (OSError, ValueError):
            return None
        if job["state"] in ("queued", "running") and not _alive(int(job["pid"])):
            job.update(
                state="failed",
                stage="done",
                status_code=503,
                detail="the worker that ran this job stopped; send the upload again",
            )
        return job

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
