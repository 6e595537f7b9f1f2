"""HTML renderings of notebooks: code optionally hidden, and no network at render time."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from lab2prod.execute.render import render_html
from tests.conftest import ROOT

NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to resolve a host or open a connection fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"network access during rendering: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("hide_code", [False, True], ids=["with code", "hide code"])
def test_renders_offline_with_code_shown_or_hidden(tmp_path: Path, hide_code: bool):
    """The page renders with no network; hide_code drops code, keeps the prose."""
    html = render_html(
        NOTEBOOKS / "records_values.ipynb", tmp_path / "page.html", hide_code=hide_code
    )
    page = html.read_text()
    assert "Records values" in page
    assert ("groupby" in page) is not hide_code
    assert "<title>records_values</title>" in page
