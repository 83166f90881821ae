"""What one ``hnn serve`` deployment is configured with, passed to every uvicorn worker.

Workers are separate processes started by uvicorn, so the configuration travels as JSON in an
environment variable (:data:`CONFIG_ENV`); the bearer token never does: each worker reads it
again from the file or variable it was named by.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hnnframe.errors import ConfigError
from hnnframe.limits import Limits as ReadLimits

#: The variable that carries a :class:`ServeConfig` to the workers.
CONFIG_ENV = "HNN_SERVE_CONFIG"
#: The variable a bearer token is read from when no token file is given.
TOKEN_ENV = "HNN_SERVE_TOKEN"

MB = 1 << 20


@dataclass
class Limits:
    """Bounds on one request (uploads come from strangers: docs/serve.md, "Limits").

    Attributes:
        upload_bytes: Largest request body (the upload as sent, archive or model file).
        members: Most entries in an archive.
        unpacked_bytes: Most bytes an archive may unpack to.
        sync_bytes: Largest upload ``/v1/check`` and ``/v1/models`` take directly; a larger
            one is refused with 413 and a pointer to ``/v1/jobs``.
    """

    upload_bytes: int = 512 * MB
    members: int = 1000
    unpacked_bytes: int = 2048 * MB
    sync_bytes: int = 64 * MB


@dataclass
class ServeConfig:
    """One deployment: the index, the checkpoint, the folders, the token and the limits.

    Attributes:
        db: The index (a SQLite path or a ``postgresql://`` URL).
        data_dir: Where uploads, added models, jobs and metrics live (shared by the workers).
        checkpoint: The checkpoint (default: the one the index is bound to).
        storage_root: Uploads may also be named by a path under this folder (``{"path": ...}``).
        token_file: A file holding the bearer token (else ``$HNN_SERVE_TOKEN``).
        device: Torch device of the hasher.
        fail_on: The ``suspect`` policy of check answers (``hnn index check --fail-on``).
        jobs: Threads per worker that run jobs.
        reading: The ``--max-*`` bounds on what one upload may make hnnframe read
            (:class:`hnnframe.limits.Limits` fields; the defaults where absent).
    """

    db: str
    data_dir: str
    checkpoint: str | None = None
    storage_root: str | None = None
    token_file: str | None = None
    device: str = "cpu"
    fail_on: str = "auto"
    jobs: int = 1
    limits: Limits = field(default_factory=Limits)
    reading: dict[str, float] = field(default_factory=dict)

    def reader_limits(self) -> ReadLimits:
        """The bounds every upload is read under (the CLI's ``--max-*``)."""
        return ReadLimits().with_values(**self.reading)

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ServeConfig:
        raw = (environ if environ is not None else os.environ).get(CONFIG_ENV)
        if not raw:
            raise ConfigError(f"${CONFIG_ENV} is not set: start the server with `hnn serve`")
        d = json.loads(raw)
        d["limits"] = Limits(**d.get("limits", {}))
        return cls(**d)

    def token(self) -> str | None:
        """The bearer token, or ``None`` when none is configured (localhost only)."""
        if self.token_file:
            try:
                tok = Path(self.token_file).read_text().strip()
            except OSError as e:
                raise ConfigError(f"{self.token_file}: {e.strerror or e}") from None
            if not tok:
                raise ConfigError(f"{self.token_file}: the token file is empty")
            return tok
        return os.environ.get(TOKEN_ENV) or None


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
