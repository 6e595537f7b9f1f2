"""A real Jupyter server (or JupyterLab) on 127.0.0.1 for lab2prod's tests, isolated from the
user's Jupyter configuration, settings and workspaces."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT, stop_process_group
from tests.serving.server import free_port

BUILT = ROOT / "src" / "lab2prod" / "lab" / "labextension"
"""Where ``make labextension`` builds the JupyterLab extension (the wheel takes it from here)."""
TOKEN = "lab2prod-test-token"
UI_TESTS = ROOT / "labextension" / "ui-tests"
ARTIFACTS = ROOT / ".artifacts" / "jupyterlab"
CHROMIUM = Path(os.environ.get("LAB2PROD_CHROMIUM", "/usr/bin/chromium"))
NODE = shutil.which("node")


def require_browser_tools() -> None:
    """The tools `make test` installs; without them the test fails saying how to get them."""
    missing = [
        what
        for what, there in [
            (
                "the built JupyterLab extension (make labextension)",
                (BUILT / "package.json").is_file(),
            ),
            ("Node.js", NODE is not None),
            (
                "playwright-core (make labextension)",
                (UI_TESTS.parent / "node_modules" / "playwright-core").is_dir(),
            ),
            (f"Chromium at {CHROMIUM} (apt-get install chromium)", CHROMIUM.is_file()),
        ]
        if not there
    ]
    assert not missing, f"missing {', '.join(missing)}: run `make test-tools`"


def run_node(script: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    assert NODE is not None
    return subprocess.run(
        [NODE, str(UI_TESTS / script)],
        cwd=UI_TESTS,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass(frozen=True)
class Server:
    """A running server: its base URL and token, and the file its log goes to."""

    url: str
    token: str
    log: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}


def jupyter_env(
    home: Path, *, extension: Path | None = None, enable: bool = True
) -> dict[str, str]:
    """Jupyter's environment under ``home``: lab2prod's server extension enabled (``enable``;
    an installed wheel enables it itself), and the built JupyterLab extension (``extension``,
    a folder with its package.json) found."""
    config = home / "config"
    (config / "jupyter_server_config.d").mkdir(parents=True, exist_ok=True)
    if enable:
        (config / "jupyter_server_config.d" / "lab2prod.json").write_text(
            json.dumps({"ServerApp": {"jpserver_extensions": {"lab2prod.lab": True}}})
        )
    data = home / "data"
    (data / "labextensions").mkdir(parents=True, exist_ok=True)
    if extension is not None:
        link = data / "labextensions" / "lab2prod"
        if not link.exists():
            link.symlink_to(extension, target_is_directory=True)
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    # No question about fetching Jupyter news over the network in the screenshots.
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    return {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "user-config"),
        "JUPYTER_CONFIG_PATH": str(config),
        "JUPYTER_DATA_DIR": str(home / "user-data"),
        "JUPYTER_PATH": str(data),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }


@contextmanager
def jupyter(
    root: Path,
    home: Path,
    *,
    python: Path,
    app: str = "jupyter_server",
    extension: Path | None = None,
    enable: bool = True,
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
) -> Iterator[Server]:
    """Run ``python -m APP`` serving ``root`` on 127.0.0.1 until the block ends.

    Ready when the server logs the URL it listens on (read from its log as it comes, no
    polling). Stopped with its whole process group.
    """
    port = free_port()
    log = home / f"{app}.log"
    command = [
        str(python),
        "-m",
        app,
        "--allow-root",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={root}",
    ]
    process = subprocess.Popen(
        command,
        cwd=root,
        env={**jupyter_env(home, extension=extension, enable=enable), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stderr is not None
        with log.open("w") as out:
            for line in process.stderr:
                out.write(line)
                out.flush()
                lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"{app} not ready in {timeout} s; see {log}") from None
            if line is None:
                raise RuntimeError(f"{app} exited with {process.wait()}: {log.read_text()[-3000:]}")
            if f"{url}/" in line:
                break
        yield Server(url, TOKEN, log)
    finally:
        stop_process_group(process)
