"""The endpoints of ``hnn serve``, versioned under ``/v1`` (docs/serve.md lists them).

Blocking work (hashing, the database) runs in Starlette's thread pool, so one slow upload does
not stop a worker from answering ``/healthz`` or ``/metrics``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from hnnframe.errors import IndexStoreError
from hnnframe.serve import operations as ops
from hnnframe.serve.page import review_page, review_script
from hnnframe.serve.receive import Upload, int_field, json_body, receive_upload
from hnnframe.serve.schemas import (
    Added,
    Exists,
    Job,
    Record,
    Removed,
    SearchAnswer,
    SearchRequest,
    Verdict,
    errors,
    upload_body,
)
from hnnframe.serve.uploads import UploadError, remove_tree

router = APIRouter()


def _state(request: Request) -> Any:
    return request.app.state


def _answer(status: int, body: Any) -> JSONResponse:
    return JSONResponse(body, status_code=status)


async def _record(request: Request, record_id: int) -> dict[str, Any]:
    svc = _state(request).service
    try:
        rec = await run_in_threadpool(svc.get, record_id)
    except IndexStoreError:
        raise UploadError(f"no record with id {record_id}", 404) from None
    return rec.to_dict()


async def _taken(request: Request, under: str = "uploads") -> Upload:
    return await receive_upload(request, _state(request).cfg, under)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page() -> HTMLResponse:
    return HTMLResponse(review_page())


@router.get("/static/review.js", include_in_schema=False)
async def page_script() -> PlainTextResponse:
    return PlainTextResponse(review_script(), media_type="text/javascript")


@router.get("/healthz", tags=["service"])
async def healthz(request: Request) -> dict[str, Any]:
    """Whether this worker and its index answer."""
    return {"ok": True, **await run_in_threadpool(_state(request).service.healthy)}


@router.get("/metrics", response_class=PlainTextResponse, tags=["service"])
async def metrics(request: Request) -> PlainTextResponse:
    """Requests, latency and verdicts by tier, in Prometheus' text format."""
    text = await run_in_threadpool(_state(request).metrics.render)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


@router.post(
    "/v1/check",
    response_model=Verdict,
    tags=["index"],
    responses=errors(400, 401, 403, 404, 413, 415, 422),
    openapi_extra=upload_body(),
)
async def check(request: Request) -> JSONResponse:
    """Is the upload a copy of an indexed model, and on which tier? The object of ``hnn
    index check --json``, ``suspect`` included."""
    st = _state(request)
    up = await _taken(request)
    try:
        return _answer(*await run_in_threadpool(ops.check, st.service, st.metrics, up))
    finally:
        up.discard()


@router.post(
    "/v1/models",
    status_code=201,
    response_model=Added,
    tags=["index"],
    responses={409: {"model": Exists}, **errors(400, 401, 403, 404, 413, 415, 422)},
    openapi_extra=upload_body(),
)
async def add_model(request: Request) -> JSONResponse:
    """Hash the upload and add it (with ``label`` and ``meta``); 409 with the record already
    in when its file is."""
    up = await _taken(request, "models")  # kept: the record's path, for a later rehash
    status, body = 500, {}
    try:
        status, body = await run_in_threadpool(ops.add, _state(request).service, up)
    finally:
        if status != 201:
            up.discard()
    return _answer(status, body)


@router.get(
    "/v1/models/{record_id}", response_model=Record, tags=["index"], responses=errors(401, 404)
)
async def get_model(request: Request, record_id: int) -> JSONResponse:
    """One indexed model."""
    return _answer(200, await _record(request, record_id))


@router.delete(
    "/v1/models/{record_id}", response_model=Removed, tags=["index"], responses=errors(401, 404)
)
async def remove_model(request: Request, record_id: int) -> JSONResponse:
    """Remove one indexed model."""
    st = _state(request)
    rec = await _record(request, record_id)
    try:
        removed = await run_in_threadpool(st.service.remove, record_id)
    except IndexStoreError:  # removed meanwhile by another request
        raise UploadError(f"no record with id {record_id}", 404) from None
    kept = Path(st.cfg.data_dir, "models").resolve()
    folder = Path(rec["path"]).resolve().parent
    if folder.parent == kept:  # a model this server keeps: its upload folder goes too
        remove_tree(folder)
    return _answer(200, {"removed": removed})


@router.post(
    "/v1/search",
    response_model=SearchAnswer,
    tags=["index"],
    responses=errors(400, 401, 404, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": SearchRequest.model_json_schema()},
                **upload_body({"k": {"type": "integer"}})["requestBody"]["content"],
            },
        }
    },
)
async def search(request: Request) -> JSONResponse:
    """The k indexed models nearest to a stored record (``id``), a code (``code``) or an
    upload (multipart ``file``)."""
    svc = _state(request).service
    if request.headers.get("content-type", "").startswith("multipart/"):
        up = await _taken(request)
        try:
            k, radius = int_field(up.fields, "k", 10), int_field(up.fields, "radius")
            return _answer(
                *await run_in_threadpool(ops.search, svc, up.source, k, radius, up.shown)
            )
        finally:
            up.discard()
    req = SearchRequest.model_validate(await json_body(request))
    if (req.id is None) == (req.code is None):
        raise UploadError('give one of "id" (a stored record) or "code" (hex)')
    if req.id is not None:
        await _record(request, req.id)  # 404 for a missing id
    query = req.id if req.id is not None else f"hex:{req.code}"
    return _answer(*await run_in_threadpool(ops.search, svc, query, req.k, req.radius, None))


@router.get("/v1/stats", tags=["index"], responses=errors(401))
async def stats(request: Request) -> dict[str, Any]:
    """``hnn index stats --json``: records, binding, categories, labels, size."""
    return await run_in_threadpool(_state(request).service.stats)


@router.post(
    "/v1/jobs",
    status_code=202,
    response_model=Job,
    tags=["jobs"],
    responses=errors(400, 401, 403, 404, 413, 415, 422),
    openapi_extra=upload_body(
        {
            "action": {
                "type": "string",
                "enum": ["check", "add"],
                "description": "what to do (default check)",
            }
        }
    ),
)
async def submit_job(request: Request) -> JSONResponse:
    """Take a large upload and check or add it in the background; ``GET /v1/jobs/{id}``
    gives its progress and, once done, the answer the synchronous endpoint would give."""
    st = _state(request)
    up = await _taken(request, "models")
    action = up.fields.get("action") or "check"
    if action not in ("check", "add"):
        up.discard()
        raise UploadError(f"action must be check or add, not {action!r}")
    outcome: dict[str, int] = {}

    def work() -> tuple[int, Any]:
        res = (
            ops.check(st.service, st.metrics, up) if action == "check" else ops.add(st.service, up)
        )
        outcome["status"] = res[0]
        return res

    def cleanup() -> None:
        if not (action == "add" and outcome.get("status") == 201):
            up.discard()

    job = st.jobs.submit(action, up.shown, work, cleanup)
    return _answer(202, job)


@router.get("/v1/jobs/{job_id}", response_model=Job, tags=["jobs"], responses=errors(401, 404))
async def get_job(request: Request, job_id: str) -> JSONResponse:
    """A job's state, stage and, once done, its answer."""
    job = _state(request).jobs.get(job_id)
    if job is None:
        raise UploadError(f"no job {job_id}", 404)
    return _answer(200, job)
