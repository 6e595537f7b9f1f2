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
