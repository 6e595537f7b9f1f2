"""LoadShedder: past max_in_flight, an immediate 503 with Retry-After; probes never shed."""

from __future__ import annotations

import asyncio
import json

import pytest

from lab2prod.serving.shedding import LoadShedder


class SlowApp:
    """An ASGI app that holds each request until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = 0

    async def __call__(self, scope, receive, send):
        self.started += 1
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def call(app, path: str = "/predict") -> tuple[int, dict, bytes]:
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message):
        sent.append(message)

    await app({"type": "http", "path": path, "method": "POST", "headers": []}, receive, send)
    headers = {k.decode(): v.decode() for k, v in sent[0].get("headers", [])}
    return sent[0]["status"], headers, sent[1]["body"]


def test_past_the_limit_requests_get_503_with_retry_after_and_the_admitted_ones_finish():
    """Two admitted, the third refused at once with a JSON body and Retry-After; once the two
    finish, the next is admitted again."""
    reasons: list[str] = []

    async def scenario():
        inner = SlowApp()
        app = LoadShedder(inner, path="/predict", max_in_flight=2, on_reject=reasons.append)
        admitted = [asyncio.ensure_future(call(app)) for _ in range(2)]
        await asyncio.sleep(0.01)
        refused = await asyncio.wait_for(call(app), 1)
        probe = asyncio.ensure_future(call(app, "/readyz"))  # never shed, even now
        await asyncio.sleep(0.01)
        inner.release.set()
        done = await asyncio.gather(*admitted, probe)
        again = await call(app)
        return refused, done, again, app.in_flight

    refused, done, again, in_flight = asyncio.run(scenario())

    status, headers, body = refused
    assert status == 503 and headers["retry-after"] == "1"
    assert json.loads(body)["detail"][0]["type"] == "overloaded"
    assert [d[0] for d in done] == [200, 200, 200]
    assert again[0] == 200 and in_flight == 0
    assert reasons == ["overloaded"]


@pytest.mark.parametrize(("limit", "retry"), [(0, 1), (1, 0)])
def test_limits_below_one_are_refused(limit, retry):
    """A limit of zero would refuse everything: it is an error, naming both values."""
    with pytest.raises(ValueError, match="must be 1 or more"):
        LoadShedder(SlowApp(), path="/p", max_in_flight=limit, retry_after=retry)
