"""The lab2prod wheel carries the prebuilt JupyterLab extension: installed in a fresh
environment with no Node.js, with the JupyterLab the lock pins and with the previous minor,
both extensions are found and enabled, `python -m jupyterlab.browser_check` passes, and the
extension loads in a real browser (Debian's Chromium) without an error.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.lab2prod.lab.jupyter import (
    ARTIFACTS,
    jupyter,
    jupyter_env,
    require_browser_tools,
    run_node,
)

UV = Path(sys.executable).with_name("uv")
JUPYTERLAB = {"pinned": "4.6.6", "previous-minor": "4.5.11"}
"""The JupyterLab the lock pins, and the latest release of the minor before it."""
DATA = "lab2prod-0.1.0.data/data"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel as `uv build` makes it from the repository (after `make labextension`)."""
    require_browser_tools()
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [str(UV), "build", "--wheel", "--out-dir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (found,) = out.glob("lab2prod-*.whl")
    return found


@pytest.fixture(scope="module")
def constraints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lock's versions, so the fresh environment is the project's but for JupyterLab."""
    exported = subprocess.run(
        [str(UV), "export", "--frozen", "--no-hashes", "--no-dev", "--no-emit-project"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert exported.returncode == 0, exported.stderr
    path = tmp_path_factory.mktemp("constraints") / "constraints.txt"
    path.write_text(
        "\n".join(
            line
            for line in exported.stdout.splitlines()
            if line and not line.startswith(("#", " ", "-e", "jupyterlab=="))
        )
    )
    return path


@pytest.mark.slow
def test_wheel_holds_the_prebuilt_extension_and_the_server_switch(wheel: Path):
    """Where JupyterLab and the Jupyter server look: share/jupyter/..., etc/jupyter/..."""
    names = set(zipfile.ZipFile(wheel).namelist())
    extension = f"{DATA}/share/jupyter/labextensions/lab2prod"
    assert f"{extension}/package.json" in names
    assert f"{extension}/install.json" in names
    assert f"{extension}/schemas/lab2prod/plugin.json" in names
    assert any(n.startswith(f"{extension}/static/remoteEntry.") for n in names)
    assert f"{DATA}/etc/jupyter/jupyter_server_config.d/lab2prod.json" in names


@pytest.mark.slow
@pytest.mark.parametrize("release", sorted(JUPYTERLAB), ids=sorted(JUPYTERLAB))
def test_installed_wheel_works_without_node(
    wheel: Path, constraints: Path, tmp_path: Path, release: str
):
    """Fresh venv, the wheel, JupyterLab X; PATH without Node.js: lists, browser_check, loads."""
    venv = tmp_path / "venv"
    made = subprocess.run(
        [str(UV), "venv", "--python", sys.executable, str(venv)], capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [
            str(UV),
            "pip",
            "install",
            "--python",
            str(python),
            "--constraint",
            str(constraints),
            str(wheel),
            f"jupyterlab=={JUPYTERLAB[release]}",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]

    home = tmp_path / "jupyter"
    env = {
        **jupyter_env(home, enable=False),
        "PATH": str(venv / "bin"),  # no Node.js anywhere on it
        "HOME": str(tmp_path),
    }
    assert not any((Path(d) / "node").exists() for d in env["PATH"].split(os.pathsep))

    def jupyter_cli(*args: str) -> str:
        done = subprocess.run(
            [str(python), "-m", *args], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
        return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)  # no colours

    servers = jupyter_cli("jupyter_server", "extension", "list")
    assert "lab2prod.lab enabled" in servers, servers
    assert re.search(r"lab2prod\.lab\s+OK", servers), servers
    labs = jupyter_cli("jupyterlab.labextensions", "list")
    assert "lab2prod v0.1.0 enabled OK (python, lab2prod)" in labs, labs
    jupyter_cli("jupyterlab.browser_check", "--no-browser-test", "--allow-root")

    with jupyter(tmp_path, home, python=python, app="jupyterlab", enable=False, env=env) as lab:
        loaded = run_node(
            "loads.js",
            {
                "LAB_URL": lab.url,
                "LAB_TOKEN": lab.token,
                "SCREENSHOT": str(ARTIFACTS / f"wheel-jupyterlab-{JUPYTERLAB[release]}.png"),
            },
            timeout=300,
        )
    assert loaded.returncode == 0, (
        f"{loaded.stdout}\n{loaded.stderr}\n{lab.log.read_text()[-3000:]}"
    )
    assert f"lab2prod loaded in JupyterLab {JUPYTERLAB[release]}" in loaded.stdout
