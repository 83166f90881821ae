"""Helpers of tests/test_serve*.py: a real ``hnn serve`` (uvicorn) in a subprocess on a free
loopback port, and a real httpx client to it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``hnn serve ARGV`` on ``port``; :attr:`client` talks to it."""

    def __init__(
        self,
        argv: list[str],
        port: int,
        env: dict[str, str] | None = None,
        token: str | None = None,
    ) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hnnframe.cli", "serve", "--port", str(port), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full,
            cwd=ROOT,
            start_new_session=True,
        )
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=60)
        self._wait()

    def _wait(self, timeout: float = 120) -> None:
        t0 = time.time()
        while time.time() - t0 < timeout:
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise RuntimeError(f"hnn serve exited {self.proc.returncode}: {err[-2000:]}")
            try:
                if self.client.get("/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("hnn serve did not answer /healthz in time")

    def stop(self) -> str:
        """Stop the server (and its workers); its stderr."""
        self.client.close()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.stderr.read() if self.proc.stderr else ""


@contextmanager
def serving(
    *argv: Any, env: dict[str, str] | None = None, token: str | None = None
) -> Iterator[Server]:
    """A server for the duration of the block."""
    s = Server([str(a) for a in argv], free_port(), env=env, token=token)
    try:
        yield s
    finally:
        s.stop()


def one_line(answer: httpx.Response) -> str:
    """The ``detail`` of an error answer, checked to be one line and no traceback."""
    detail = answer.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and "Traceback" not in detail
    return detail
