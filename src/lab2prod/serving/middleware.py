"""ASGI middleware in front of a scoring route: the bearer token, then the content type.

Both checks need only the headers, so a refused request costs no body parsing. Each refusal is
a JSON body shaped like every other error of the service: ``{"error": ..., "detail": [...]}``.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Callable
from typing import Any

_Scope = dict[str, Any]
_Receive = Callable[[], Any]
_Send = Callable[[dict[str, Any]], Any]


class RequestGuard:
    """Refuses requests to ``path`` without the configured token (401) or not in JSON (415).

    The token is read from the environment when the server starts, so it never sits in code or
    in the bento. With the variable unset or empty, the route is open.

    Args:
        app: The ASGI app it wraps (BentoML passes it).
        path: The route it guards, e.g. ``/predict``.
        token_env: The environment variable that holds the bearer token.
        on_reject: Called with the reason (``unauthorized``, ``unsupported_media_type``) of
            each refusal, for the metrics.
    """

    def __init__(
        self,
        app: Any,
        *,
        path: str,
        token_env: str,
        on_reject: Callable[[str], None] | None = None,
    ) -> None:
        self.app = app
        self.path = path
        self.token_env = token_env
        token = os.environ.get(token_env, "")
        self._expected = f"Bearer {token}".encode() if token else None
        self._on_reject = on_reject

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
        await self.app(scope, receive, send)

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
