"""The FastAPI app of one ``hnn serve`` worker: its warm state, the guard (token, body
bound), the metrics, and answers of one line for every error (a traceback never reaches the
client; it goes to the server's log).

``uvicorn`` starts one per worker through :func:`from_env` (a factory reading the
configuration ``hnn serve`` put in ``$HNN_SERVE_CONFIG``); tests and embedders call
:func:`create_app` with a :class:`~hnnframe.serve.config.ServeConfig`.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from hnnframe.errors import HnnError
from hnnframe.log import get_logger
from hnnframe.serve.auth import Guard
from hnnframe.serve.config import ServeConfig
from hnnframe.serve.jobs import Jobs
from hnnframe.serve.metrics import Metrics
from hnnframe.serve.routes import router
from hnnframe.serve.service import Service
from hnnframe.serve.uploads import UploadError

log = get_logger(__name__)

DESCRIPTION = (
    "The hnnframe hash index as a service: check an upload for copies of indexed models (the "
    "verdict of `hnn index check --json`), add models, search, and follow large uploads "
    "through jobs. See docs/serve.md."
)


def _one_line(text: Any) -> str:
    return " ".join(str(text).split()) or "error"


def _validation_line(errors: list[Any]) -> str:
    parts = []
    for e in errors[:3]:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
        parts.append(f"{loc}: {e.get('msg')}" if loc else str(e.get("msg")))
    return _one_line("; ".join(parts))


def _handlers(app: FastAPI) -> None:
    def answer(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)

    @app.exception_handler(UploadError)
    async def upload_error(_: Request, e: UploadError) -> JSONResponse:
        return answer(e.status, _one_line(e))

    @app.exception_handler(HnnError)
    async def hnn_error(_: Request, e: HnnError) -> JSONResponse:
        return answer(422, _one_line(e))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        return answer(422, _validation_line(list(e.errors())))

    @app.exception_handler(ValidationError)
    async def invalid_body(_: Request, e: ValidationError) -> JSONResponse:
        return answer(422, _validation_line(list(e.errors())))

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, e: HTTPException) -> JSONResponse:
        return answer(e.status_code, _one_line(e.detail), getattr(e, "headers", None))

    @app.exception_handler(Exception)
    async def internal(request: Request, e: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=e)
        return answer(500, f"internal error ({type(e).__name__}); the server's log has it")


class Timing:
    """Counts every request in the metrics by route and status, and names the worker that
    answered (``x-hnn-worker``: for logs, and for the load test that kills one of them).

    Pure ASGI rather than Starlette's ``BaseHTTPMiddleware``, whose task group would wrap an
    error raised while the body streams in (a body over the limit) into an exception group.
    """

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics
        self.pid = str(os.getpid()).encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", []), (b"x-hnn-worker", self.pid)]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.request(scope["method"], route, status, time.perf_counter() - t0)


def create_app(cfg: ServeConfig, service: Service | None = None) -> Any:
    """The app of one worker (wrapped in its guard), with the index and hasher loaded.

    Raises:
        ConfigError: No checkpoint, or no token where one is named (a token file missing).
    """
    data = Path(cfg.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    svc = service or Service(cfg)
    jobs = Jobs(data / "jobs", cfg.jobs)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.close()
        svc.close()

    app = FastAPI(title="hnn serve", version="v1", description=DESCRIPTION, lifespan=lifespan)
    app.state.cfg, app.state.service, app.state.jobs = cfg, svc, jobs
    app.state.metrics = Metrics(data / "metrics")
    app.include_router(router)
    _handlers(app)
    app.add_middleware(Timing, metrics=app.state.metrics)
    return Guard(app, cfg.token(), cfg.limits)


def from_env() -> Any:
    """uvicorn's factory: the app of the configuration in ``$HNN_SERVE_CONFIG``."""
    return create_app(ServeConfig.from_env())
