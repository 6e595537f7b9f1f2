"""Fixtures shared by the whole suite: telemetry off, and a small real project run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KEDRO = Path(sys.executable).with_name("kedro")
LAYERS = tuple(sorted(p.name for p in (ROOT / "data").iterdir() if p.is_dir()))
"""Kedro's data layer folders, as the repository keeps them (``data/0N_layer/.gitkeep``)."""
SMALL_RUN_PARAMS = (
    "data_generation.n_transactions=40000,data_generation.n_customers=1500,"
    "data_generation.n_merchants=300"
)


def pytest_configure(config: pytest.Config) -> None:
    # The suite never reaches the network: telemetry off for every process it starts.
    os.environ["KEDRO_DISABLE_TELEMETRY"] = "true"
    os.environ["BENTOML_DO_NOT_TRACK"] = "true"
    os.environ["DO_NOT_TRACK"] = "true"
    # `kedro run` ends by saving a model to the BentoML store: never the user's.
    from tests.serving.server import isolate_bentoml_home

    isolate_bentoml_home()


def make_project_copy(dest: Path) -> Path:
    """A copy of the project's configuration and notebooks with empty data folders.

    The packages are installed in the environment, so a Kedro project needs only
    ``pyproject.toml`` and ``conf/`` around them; running in a copy never touches ``data/``.
    """
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "conf" / "base", dest / "conf" / "base")
    (dest / "conf" / "local").mkdir()
    (dest / "src").mkdir()  # Kedro insists on the source dir; the packages come installed.
    shutil.copytree(ROOT / "notebooks", dest / "notebooks")
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy(ROOT / name, dest / name)
    for layer in LAYERS:
        (dest / "data" / layer).mkdir(parents=True)
    return dest


def stop_process_group(process: subprocess.Popen) -> None:
    """Stop a server started with ``start_new_session=True`` and everything it spawned: first
    politely (SIGTERM), then by force."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def kedro(project: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the ``kedro`` CLI of this environment in ``project``."""
    return subprocess.run(
        [str(KEDRO), *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )


def make_kedro_skeleton(root: Path, package: str) -> Path:
    """A minimal Kedro project: pyproject, empty configuration, a package with no pipelines."""
    source = root / "src" / package
    source.mkdir(parents=True)
    (source / "__init__.py").write_text('"""A tiny project."""\n')
    (source / "settings.py").write_text('"""Default settings."""\n')
    (source / "pipeline_registry.py").write_text(
        "from kedro.pipeline import Pipeline\n\n\n"
        "def register_pipelines():\n"
        '    return {"__default__": Pipeline([])}\n'
    )
    (root / "pyproject.toml").write_text(
        f'[tool.kedro]\npackage_name = "{package}"\nproject_name = "tiny"\n'
        'kedro_init_version = "1.7.0"\nsource_dir = "src"\n'
    )
    (root / "conf" / "base").mkdir(parents=True)
    (root / "conf" / "local").mkdir()
    return root


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project copy on which ``kedro run`` (all pipelines, small data) has completed."""
    project = make_project_copy(tmp_path_factory.mktemp("small_run") / "project")
    result = kedro(project, "run", "--params", SMALL_RUN_PARAMS)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project
