"""RequestGuard: the bearer token and the content type, checked before any body is read."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from lab2prod.serving.middleware import RequestGuard


async def ok(request):
    return PlainTextResponse("ok")


def client(monkeypatch, token: str | None) -> tuple[TestClient, list[str]]:
    if token is None:
        monkeypatch.delenv("TEST_API_TOKEN", raising=False)
    else:
        monkeypatch.setenv("TEST_API_TOKEN", token)
    rejected: list[str] = []
    app = Starlette(routes=[Route("/predict", ok, methods=["GET", "POST"]), Route("/other", ok)])
    guarded = RequestGuard(
        app, path="/predict", token_env="TEST_API_TOKEN", on_reject=rejected.append
    )
    return TestClient(guarded), rejected


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        ({**JSON, "Authorization": "Bearer t0k"}, 200, None),
        (JSON, 401, "unauthorized"),
        ({**JSON, "Authorization": "Bearer wrong"}, 401, "unauthorized"),
        ({**JSON, "Authorization": "t0k"}, 401, "unauthorized"),
        (
            {"Content-Type": "text/plain", "Authorization": "Bearer t0k"},
            415,
            "unsupported_media_type",
        ),
        ({"Authorization": "Bearer t0k"}, 415, "unsupported_media_type"),
        (
            {"Content-Type": "application/json; charset=utf-8", "Authorization": "Bearer t0k"},
            200,
            None,
        ),
    ],
)
def test_with_a_token_predict_needs_it_and_json(monkeypatch, headers, status, reason):
    """401 without the right bearer token, 415 for anything but JSON, each with a JSON body."""
    test_client, rejected = client(monkeypatch, "t0k")
    response = test_client.post("/predict", content=b"{}", headers=headers)
    assert response.status_code == status
    if reason is not None:
        assert response.json()["detail"][0]["type"] == reason
        assert rejected == [reason]


def test_without_a_token_predict_is_open_but_still_json_only(monkeypatch):
    """No token configured: no 401, the content type is still checked."""
    test_client, _ = client(monkeypatch, None)
    assert test_client.post("/predict", content=b"{}", headers=JSON).status_code == 200
    assert (
        test_client.post("/predict", content=b"x", headers={"Content-Type": "text/csv"}).status_code
        == 415
    )


def test_other_routes_and_methods_pass_untouched(monkeypatch):
    """Only POST on the guarded path is checked."""
    test_client, rejected = client(monkeypatch, "t0k")
    assert test_client.get("/other").status_code == 200
    assert test_client.get("/predict").status_code == 200
    assert rejected == []


def limited_client(monkeypatch, **limits) -> tuple[TestClient, list[str]]:
    monkeypatch.delenv("TEST_API_TOKEN", raising=False)
    rejected: list[str] = []

    async def echo(request):
        return PlainTextResponse(str(len(await request.body())))

    app = Starlette(routes=[Route("/predict", echo, methods=["POST"])])
    guarded = RequestGuard(
        app, path="/predict", token_env="TEST_API_TOKEN", on_reject=rejected.append, **limits
    )
    return TestClient(guarded), rejected


def test_a_body_over_the_limit_is_413_and_one_within_reaches_the_app(monkeypatch):
    """The app sees the whole body when it fits; past the limit, 413 naming the limit."""
    test_client, rejected = limited_client(monkeypatch, max_body_bytes=10)

    fits = test_client.post("/predict", content=b"0123456789", headers=JSON)
    over = test_client.post("/predict", content=b"0123456789x", headers=JSON)

    assert fits.status_code == 200 and fits.text == "10"
    assert over.status_code == 413 and over.headers["connection"] == "close"
    assert "the limit is 10" in over.json()["detail"][0]["msg"]
    assert rejected == ["too_large"]


def test_a_chunked_body_is_counted_as_it_arrives(monkeypatch):
    """A body without Content-Length is refused once what arrived passes the limit."""
    test_client, rejected = limited_client(monkeypatch, max_body_bytes=10)

    def chunks():
        yield b"0123456"
        yield b"789abc"

    response = test_client.post("/predict", content=chunks(), headers=JSON)
    assert response.status_code == 413 and rejected == ["too_large"]


def test_a_body_slower_than_the_timeout_is_408():
    """A body that has not all arrived within the timeout gets a 408; the app never runs."""
    import asyncio

    async def app(scope, receive, send):
        raise AssertionError("the app must not run")

    guard = RequestGuard(app, path="/predict", token_env="UNSET_TOKEN_VAR", body_timeout=0.2)
    sent: list[dict] = []

    async def receive():
        await asyncio.sleep(0.1)
        return {"type": "http.request", "body": b"x", "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "path": "/predict",
        "method": "POST",
        "headers": [(b"content-type", b"application/json")],
    }
    asyncio.run(guard(scope, receive, send))
    assert sent[0]["status"] == 408
    assert b"did not arrive within 0.2 s" in sent[1]["body"]
