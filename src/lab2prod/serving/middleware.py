"""ASGI middleware in front of a scoring route: the bearer token, the content type, the body.

The token and the content type need only the headers, so a refused request costs no body
parsing. The body is then read here, whole, within a size limit and a time limit: a body
larger than the limit is refused as soon as its declared length (or what has arrived) passes
it, and one that trickles in too slowly is cut off, so neither holds the worker's memory or a
slot of its queue past the limit. Each refusal is a JSON body shaped like every other error of
the service: ``{"error": ..., "detail": [...]}``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import time
from collections.abc import Callable
from typing import Any

_Scope = dict[str, Any]
_Receive = Callable[[], Any]
_Send = Callable[[dict[str, Any]], Any]


class RequestGuard:
    """Refuses requests to ``path`` without the configured token (401), not in JSON (415),
    with a body over ``max_body_bytes`` (413) or slower to arrive than ``body_timeout`` (408).

    The token is read from the environment when the server starts, so it never sits in code or
    in the bento. With the variable unset or empty, the route is open.

    Args:
        app: The ASGI app it wraps (BentoML passes it).
        path: The route it guards, e.g. ``/predict``.
        token_env: The environment variable that holds the bearer token.
        on_reject: Called with the reason (``unauthorized``, ``unsupported_media_type``,
            ``too_large``, ``read_timeout``) of each refusal, for the metrics.
        max_body_bytes: The largest body accepted; ``None`` for no limit.
        body_timeout: Seconds the whole body may take to arrive after the headers; ``None``
            for no limit.
    """

    def __init__(
        self,
        app: Any,
        *,
        path: str,
        token_env: str,
        on_reject: Callable[[str], None] | None = None,
        max_body_bytes: int | None = None,
        body_timeout: float | None = None,
    ) -> None:
        self.app = app
        self.path = path
        self.token_env = token_env
        token = os.environ.get(token_env, "")
        self._expected = f"Bearer {token}".encode() if token else None
        self._on_reject = on_reject
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if self._expected is not None and not hmac.compare_digest(
            headers.get(b"authorization", b""), self._expected
        ):
            await self._refuse(
                send,
                401,
                "unauthorized",
                "Missing or wrong bearer token",
                ["header", "Authorization"],
                f"Send 'Authorization: Bearer <token>' with the token set in {self.token_env}",
                extra_headers=[(b"www-authenticate", b"Bearer")],
            )
            return
        media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if media_type != b"application/json":
            await self._refuse(
                send,
                415,
                "unsupported_media_type",
                "Unsupported media type",
                ["header", "Content-Type"],
                f"Content-Type must be application/json, got {media_type.decode() or 'none'!r}",
            )
            return
        if self.max_body_bytes is None and self.body_timeout is None:
            await self.app(scope, receive, send)
            return
        declared = headers.get(b"content-length", b"")
        limit = self.max_body_bytes
        if limit is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(send, int(declared))
            return
        body = await self._read_body(receive, send)
        if body is None:  # refused, or the client left
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, receive: _Receive, send: _Send) -> bytes | None:
        """The whole body, or ``None`` once refused (413, 408) or the client disconnected."""
        chunks: list[bytes] = []
        size = 0
        deadline = None if self.body_timeout is None else time.monotonic() + self.body_timeout
        while True:
            try:
                if deadline is None:
                    message = await receive()
                else:
                    message = await asyncio.wait_for(receive(), deadline - time.monotonic())
            except TimeoutError:
                await self._refuse(
                    send,
                    408,
                    "read_timeout",
                    "Request body too slow",
                    ["body"],
                    f"The body did not arrive within {self.body_timeout:g} s (got {size} bytes)",
                    extra_headers=[(b"connection", b"close")],
                )
                return None
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if self.max_body_bytes is not None and size > self.max_body_bytes:
                await self._too_large(send, size)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _too_large(self, send: _Send, size: int) -> None:
        await self._refuse(
            send,
            413,
            "too_large",
            "Request body too large",
            ["body"],
            f"The body is {size} bytes or more; the limit is {self.max_body_bytes}: send fewer "
            "records per request",
            extra_headers=[(b"connection", b"close")],
        )

    async def _refuse(
        self,
        send: _Send,
        status: int,
        reason: str,
        error: str,
        loc: list[str],
        msg: str,
        extra_headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        if self._on_reject is not None:
            self._on_reject(reason)
        body = json.dumps(
            {"error": error, "detail": [{"loc": loc, "msg": msg, "type": reason}]}
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *(extra_headers or []),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: _Receive) -> _Receive:
    """A ``receive`` that gives the app the body already read, then whatever comes next (a
    disconnect)."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
