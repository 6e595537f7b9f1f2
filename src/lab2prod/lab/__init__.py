"""lab2prod inside JupyterLab: a Jupyter server extension over the library, and its front end.

The server extension (``handlers.py``) answers the JupyterLab extension built from
``labextension/`` at the repository root and shipped prebuilt in the wheel
(``share/jupyter/labextensions/lab2prod``). Every route sits behind the Jupyter server's own
authentication. The plan and the sync state are computed in the server's thread pool by
``lab2prod.convert.explain``; convert, verify and notebook runs are jobs, each in a worker
process of its own (``worker.py``) that can be cancelled. See docs/jupyterlab.md.
"""

from __future__ import annotations

from typing import Any

NAMESPACE = "lab2prod"
"""The first segment of every route: ``<base_url>/lab2prod/...``."""


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "lab2prod.lab"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "lab2prod"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Register lab2prod's routes on the Jupyter server (called by the server at start-up)."""
    from lab2prod.lab.handlers import setup_handlers

    setup_handlers(server_app.web_app, root_dir=server_app.root_dir)
    server_app.log.info("lab2prod: server extension loaded (routes under /%s/)", NAMESPACE)
