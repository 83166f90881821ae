"""A real PostgreSQL server for the tests that need one.

``HNN_TEST_POSTGRES_URL`` (set by ``.ci/run``, which starts Debian's cluster) wins. Without
it, when PostgreSQL's binaries are installed, the tests start a throwaway cluster: ``initdb``
in a temporary directory, a server on a free loopback port with trust authentication, stopped
and deleted when the session ends. ``initdb`` refuses to run as root, so as root the cluster
belongs to the ``postgres`` user. Without either, the PostgreSQL tests are skipped, and the
session header says so.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ENV = "HNN_TEST_POSTGRES_URL"


def bindir() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl``, newest version first, or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists():
            return Path(d)
    return None


def plan() -> str:
    """One line for the session header: where the PostgreSQL tests will get a server."""
    if os.environ.get(ENV):
        return f"PostgreSQL tests: the server of {ENV}"
    b = bindir()
    if b is not None:
        return f"PostgreSQL tests: a throwaway cluster started from {b}"
    return f"PostgreSQL tests: SKIPPED (PostgreSQL is not installed and {ENV} is not set)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowawayCluster:
    """``initdb`` + ``pg_ctl start`` in a temporary directory; :meth:`stop` removes it."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="hnn-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin / argv[0]), *argv[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=False)

    def start(self) -> str:
        r = self._run("initdb", "-D", str(self.data), "-U", "hnn", "--auth=trust", "-E", "UTF8")
        if r.returncode:
            raise RuntimeError(f"initdb failed: {r.stderr.strip()[-300:]}")
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off"
        r = self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.dir / "log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        if r.returncode:
            log = (self.dir / "log").read_text() if (self.dir / "log").exists() else r.stderr
            raise RuntimeError(f"pg_ctl start failed: {log.strip()[-300:]}")
        url = f"postgresql://hnn@127.0.0.1:{self.port}/postgres"
        self._wait(url)
        return url

    def _wait(self, url: str) -> None:
        import psycopg2

        for _ in range(100):
            try:
                psycopg2.connect(url).close()
                return
            except psycopg2.OperationalError:
                time.sleep(0.1)
        raise RuntimeError("the throwaway PostgreSQL server does not accept connections")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)
