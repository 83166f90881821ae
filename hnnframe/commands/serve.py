"""``hnn serve``: the hash index as an HTTP service (FastAPI on uvicorn), with a review page
at ``/``. The app lives in :mod:`hnnframe.serve`; this module parses the command line, refuses
unsafe or impossible set-ups, and starts uvicorn."""

from __future__ import annotations

import argparse
import os
import tempfile
from typing import Any

from hnnframe.commands.index_check import FAIL_ON_HELP
from hnnframe.commands.index_common import DB_ENV
from hnnframe.commands.limit_options import add_limit_options, limits_of
from hnnframe.commands.options import (
    add_checkpoint_option,
    add_db_option,
    add_device_option,
)
from hnnframe.errors import ConfigError
from hnnframe.serve.config import (
    CONFIG_ENV,
    MB,
    TOKEN_ENV,
    Limits,
    ServeConfig,
    is_loopback,
)


def _config(args: argparse.Namespace) -> ServeConfig:
    if not args.db:
        raise ConfigError(f"no index given: pass --db DB or set ${DB_ENV}")
    for name in ("max_upload_mb", "max_members", "max_unpacked_mb", "sync_upload_mb"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
    if args.storage_root and not os.path.isdir(args.storage_root):
        raise ConfigError(f"--storage-root {args.storage_root}: no such folder")
    data = args.data_dir or os.path.join(tempfile.gettempdir(), f"hnn-serve-{os.getuid()}")
    limits = Limits(
        upload_bytes=args.max_upload_mb * MB,
        members=args.max_members,
        unpacked_bytes=args.max_unpacked_mb * MB,
        sync_bytes=min(args.sync_upload_mb, args.max_upload_mb) * MB,
    )
    return ServeConfig(
        db=args.db,
        data_dir=os.path.abspath(data),
        checkpoint=os.path.abspath(args.checkpoint) if args.checkpoint else None,
        storage_root=os.path.abspath(args.storage_root) if args.storage_root else None,
        token_file=args.token_file,
        device=args.device,
        fail_on=args.fail_on,
        jobs=args.job_threads,
        limits=limits,
        reading=dict(vars(limits_of(args))),
    )


def _check_setup(args: argparse.Namespace, cfg: ServeConfig) -> None:
    from hnnframe.index import is_postgres_url

    if cfg.token() is None and not is_loopback(args.host):
        raise ConfigError(
            f"--host {args.host} without a token: give one with --token-file or ${TOKEN_ENV}, "
            "or serve on 127.0.0.1 (without a token the server binds to localhost only)"
        )
    if args.workers < 1:
        raise ConfigError("--workers must be at least 1")
    if args.workers > 1 and not is_postgres_url(args.db):
        raise ConfigError(
            f"--workers {args.workers}: a SQLite index serves one writer; use --workers 1, "
            "or a postgresql:// index for several workers"
        )


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from hnnframe.index import is_postgres_url
    from hnnframe.serve.service import Service

    cfg = _config(args)
    _check_setup(args, cfg)
    Service(cfg).close()  # a bad index or checkpoint is one line here, not in every worker
    os.environ[CONFIG_ENV] = cfg.to_env()
    backend = "PostgreSQL" if is_postgres_url(args.db) else "SQLite (one writer: one worker)"
    print(
        f"hnn serve: {backend} index, {args.workers} worker(s), data in {cfg.data_dir}; "
        f"review page at http://{args.host}:{args.port}/",
        flush=True,
    )
    uvicorn.run(
        "hnnframe.serve.app:from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=args.access_log,
        timeout_graceful_shutdown=10,
    )
    return 0


def register(sub: Any) -> None:
    """Add ``hnn serve``."""
    p = sub.add_parser(
        "serve",
        help="serve the hash index over HTTP, with a review page (FastAPI, uvicorn)",
        description="Serve one hash index over HTTP: POST /v1/check (the verdict of `hnn index "
        "check --json`), POST/GET/DELETE /v1/models, POST /v1/search, GET /v1/stats, jobs for "
        "large uploads (/v1/jobs), /healthz, Prometheus /metrics, the OpenAPI document at "
        "/openapi.json and a review page at /. The checkpoint and the index stay loaded, so a "
        "check costs the hashing of one upload. Without a bearer token (--token-file or "
        f"${TOKEN_ENV}) the server binds to localhost only. Several workers need a "
        "PostgreSQL index: SQLite serves one writer. See docs/serve.md.",
    )
    add_db_option(p)
    add_checkpoint_option(p, "model.pt (default: the checkpoint the index is bound to)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes (more than 1 needs a postgresql:// index)",
    )
    p.add_argument(
        "--token-file",
        metavar="FILE",
        help=f"a file holding the bearer token (default: ${TOKEN_ENV})",
    )
    p.add_argument(
        "--storage-root",
        metavar="DIR",
        help='uploads may be named by a path under this folder (JSON {"path": ...})',
    )
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="uploads, added models, jobs and metrics (default: a folder in the "
        "system's temporary directory); give a lasting one in production: added "
        "models are kept there",
    )
    _upload_options(p)
    p.add_argument(
        "--fail-on",
        default="auto",
        choices=list(FAIL_ON_HELP),
        help="the policy behind a check's `suspect` (see `hnn index check`)",
    )
    add_limit_options(p)
    p.add_argument(
        "--job-threads", type=int, default=1, metavar="N", help="jobs each worker runs at once"
    )
    add_device_option(p)
    p.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
    )
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.set_defaults(func=cmd_serve)


def _upload_options(p: argparse.ArgumentParser) -> None:
    """The bounds on one request's upload (docs/serve.md, "Limits"); their defaults are
    :class:`hnnframe.serve.config.Limits`'s."""
    d = Limits()
    p.add_argument(
        "--max-upload-mb",
        type=int,
        default=d.upload_bytes // MB,
        metavar="MB",
        help=f"largest upload, through a job (default {d.upload_bytes // MB})",
    )
    p.add_argument(
        "--sync-upload-mb",
        type=int,
        default=d.sync_bytes // MB,
        metavar="MB",
        help=f"largest upload /v1/check and /v1/models take directly (default {d.sync_bytes // MB})",
    )
    p.add_argument(
        "--max-members",
        type=int,
        default=d.members,
        metavar="N",
        help=f"most entries in an uploaded archive (default {d.members})",
    )
    p.add_argument(
        "--max-unpacked-mb",
        type=int,
        default=d.unpacked_bytes // MB,
        metavar="MB",
        help=f"most bytes an archive may unpack to (default {d.unpacked_bytes // MB})",
    )
