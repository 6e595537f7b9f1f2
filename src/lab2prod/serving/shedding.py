"""Load shedding: past a worker's capacity, a scoring route answers 503 at once, not later.

A server fed faster than it scores queues the surplus: every request waits longer, until all of
them time out (BentoML's request timeout is 30 s) and the server does no useful work at all.
:class:`LoadShedder` bounds each worker's queue instead: with ``max_in_flight`` requests of the
route already admitted (queued for a batch or being scored), the next one is refused at once
with a 503 and ``Retry-After``, before its body is read, so the ones admitted keep their
latency and clients back off. When the storm passes, nothing is left to drain.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["LoadShedder"]

_Scope = dict[str, Any]
_Receive = Callable[[], Any]
_Send = Callable[[dict[str, Any]], Any]


class LoadShedder:
    """ASGI middleware: at most ``max_in_flight`` requests to ``path`` at a time in this worker.

    Args:
        app: The ASGI app it wraps (BentoML passes it).
        path: The route it bounds, e.g. ``/predict``; other routes (probes, ``/metrics``) are
            never shed.
        max_in_flight: Requests admitted at once, per worker (each worker is one event loop).
        retry_after: Seconds a refused client is told to wait (``Retry-After``).
        on_reject: Called with ``"overloaded"`` for each refusal, for the metrics.

    Raises:
        ValueError: If ``max_in_flight`` or ``retry_after`` is below 1.
    """

    def __init__(
        self,
        app: Any,
        *,
        path: str,
        max_in_flight: int,
        retry_after: int = 1,
        on_reject: Callable[[str], None] | None = None,
    ) -> None:
        if max_in_flight < 1 or retry_after < 1:
            raise ValueError(
                f"max_in_flight and retry_after must be 1 or more, not {max_in_flight} and "
                f"{retry_after}"
            )
        self.app = app
        self.path = path
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self._on_reject = on_reject
        body = json.dumps(
            {
                "error": "The server is overloaded; retry later",
                "detail": [
                    {
                        "loc": [],
                        "msg": f"{max_in_flight} requests are being served by this worker; "
                        f"retry after {retry_after} s",
                        "type": "overloaded",
                    }
                ],
            }
        ).encode()
        self._headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry_after).encode()),
        ]
        self._body = body

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            if self._on_reject is not None:
                self._on_reject("overloaded")
            await send({"type": "http.response.start", "status": 503, "headers": self._headers})
            await send({"type": "http.response.body", "body": self._body})
            return
        # One event loop per worker: no lock needed between the test and the increment.
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
