"""Who may call, and how much they may send: the bearer token and the body-size bound, as
ASGI middleware in front of every route.

Without a token the server binds to loopback only (:mod:`hnnframe.commands.serve` refuses
another host), so anyone who can reach it is on the machine. With one, every route but
``/healthz`` and the page's HTML asks for ``Authorization: Bearer TOKEN``; the page's own
requests carry the token the reviewer types in.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from hnnframe.serve.config import Limits
from hnnframe.serve.uploads import UploadError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Routes open without a token: the liveness probe and the review page (its HTML only).
OPEN = ("/healthz", "/", "/static/review.js")
#: Largest JSON body (a path, a search, a label and metadata).
JSON_BYTES = 1 << 16


async def _answer(send: Send, status: int, detail: str, headers: list[Any] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def body_limit(path: str, content_type: str, limits: Limits) -> int:
    """The most bytes a request to ``path`` may send."""
    if not content_type.startswith("multipart/"):
        return JSON_BYTES
    return limits.upload_bytes if path.startswith("/v1/jobs") else limits.sync_bytes


class Guard:
    """Token check and body bound in one pass over the request (pure ASGI, so an oversized
    body is refused as it streams in, before it is parsed).

    Args:
        app: The app behind it.
        token: The bearer token (``None``: no token asked).
        limits: The deployment's limits.
    """

    def __init__(self, app: ASGIApp, token: str | None, limits: Limits) -> None:
        self.app, self.token, self.limits = app, token, limits

    def _authorised(self, scope: Scope) -> bool:
        if self.token is None or scope["path"] in OPEN:
            return True
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, value = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), self.token.encode()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self._authorised(scope):
            await _answer(
                send,
                401,
                "a bearer token is required (Authorization: Bearer TOKEN)",
                [(b"www-authenticate", b"Bearer")],
            )
            return
        headers = dict(scope.get("headers") or [])
        ctype = headers.get(b"content-type", b"").decode("latin-1").lower()
        limit = body_limit(scope["path"], ctype, self.limits)
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _answer(send, 413, _too_large(scope["path"], limit, self.limits))
            return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            msg = await receive()
            seen += len(msg.get("body", b""))
            if seen > limit:
                raise UploadError(_too_large(scope["path"], limit, self.limits), 413)
            return msg

        await self.app(scope, bounded, send)


def _too_large(path: str, limit: int, limits: Limits) -> str:
    tail = ""
    if limit == limits.sync_bytes and limits.upload_bytes > limit:
        tail = f"; send uploads up to {limits.upload_bytes:,} bytes through POST /v1/jobs"
    return f"the request body is larger than the limit of {limit:,} bytes{tail}"
