"""`kedro notebook run`: one run or a sweep, a summary, and an exit code per kind of failure."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from kedro.framework import project as kedro_project
from kedro.framework.startup import ProjectMetadata, bootstrap_project

from lab2prod.cli import commands
from tests.conftest import KEDRO, ROOT, kedro, make_kedro_skeleton

PACKAGE = "tiny_notebooks"
NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"


def make_tiny_project(root: Path) -> Path:
    """A minimal Kedro project: pyproject, empty configuration, a package with no pipelines."""
    return make_kedro_skeleton(root, PACKAGE)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ProjectMetadata]:
    """A tiny project bootstrapped in this process; Kedro's global state is restored after."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    previous = kedro_project.PACKAGE_NAME
    yield bootstrap_project(make_tiny_project(tmp_path / "tiny"))
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]
    kedro_project.PACKAGE_NAME = previous


def run(metadata: ProjectMetadata, notebook: str, *args: str) -> Result:
    """Run `kedro notebook run NOTEBOOK ARGS` through click, as Kedro's CLI would."""
    return CliRunner().invoke(
        commands, ["notebook", "run", str(NOTEBOOKS / notebook), *args], obj=metadata
    )


def _only_sweep(project: ProjectMetadata, stem: str) -> Path:
    (sweep,) = (project.project_path / "data" / "08_reporting" / "sweeps" / stem).iterdir()
    return sweep


def test_unknown_parameter_exits_6_before_any_kernel(
    project: ProjectMetadata, monkeypatch: pytest.MonkeyPatch
):
    """A misspelt parameter exits 6 with "did you mean", no traceback, and nothing written."""
    from lab2prod.execute.kernel import ProjectKernelManager

    def no_kernel(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(ProjectKernelManager, "start_kernel", no_kernel)
    result = run(project, "unknown_parameter.ipynb", "-p", "learning_rte=0.2")
    assert result.exit_code == 6, result.output
    assert "'learning_rte' (did you mean 'learning_rate'?)" in result.output
    assert "Traceback" not in result.output
    assert not (project.project_path / "data").exists()


def test_missing_notebook_exits_2(project: ProjectMetadata):
    """A notebook path that does not exist exits 2, naming it."""
    result = run(project, "typo.ipynb")
    assert result.exit_code == 2
    assert "typo.ipynb does not exist" in result.output


@pytest.mark.slow
def test_single_run_prints_its_records_and_exits_0(project: ProjectMetadata):
    """One run with -p prints what the notebook recorded and where its notebook is."""
    result = run(project, "sweep_square.ipynb", "-p", "x=4")
    assert result.exit_code == 0, result.output
    sweep = _only_sweep(project, "sweep_square")
    assert "square = 16" in result.output
    assert "powers: data/08_reporting/sweeps/sweep_square/" in result.output
    assert (sweep / "x=4" / "sweep_square.ipynb").exists()
    with (sweep / "summary.csv").open() as handle:
        assert [row["records.square"] for row in csv.DictReader(handle)] == ["16"]


FAILURES = [
    pytest.param(
        "broken.ipynb",
        [],
        3,
        "failed in code cell 3, line 2: `result = ratio(total, divisor)`",
        id="failed cell",
    ),
    pytest.param(
        "kernel_dies.ipynb",
        [],
        4,
        "the kernel died while running code cell 3",
        id="kernel died",
    ),
    pytest.param(
        "hangs.ipynb",
        ["--timeout-per-cell", "1"],
        5,
        "code cell 2 was still running after the 1 s per-cell timeout",
        id="timeout",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("notebook", "args", "exit_code", "message"), FAILURES)
def test_a_failed_run_exits_with_the_code_of_its_failure(
    project: ProjectMetadata, notebook: str, args: list[str], exit_code: int, message: str
):
    """A failing single run exits 3, 4 or 5 with one paragraph naming the cell and saved file."""
    result = run(project, notebook, *args)
    assert result.exit_code == exit_code, result.output
    assert message in result.output
    assert "saved at" in result.output and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


@pytest.mark.slow
def test_real_sweep_with_a_failing_run(tmp_path: Path):
    """The installed `kedro notebook run` sweeps a grid on 2 workers; x=3 fails, exit 3."""
    root = make_tiny_project(tmp_path / "tiny")
    notebook = str(NOTEBOOKS / "sweep_square.ipynb")
    result = kedro(
        root, "notebook", "run", notebook, "--grid", "x=2,3", "-w", "2", "-o", "out", timeout=120
    )
    assert result.returncode == 3, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stdout.splitlines()  # Kedro's log lines come first, on stdout too
    header, two, three = lines[lines.index(next(li for li in lines if li.startswith("run "))) :][:3]
    assert header.split() == ["run", "square", "status", "seconds"]
    assert two.split()[:3] == ["x=2", "4", "ok"]
    assert three.split()[:2] == ["x=3", "failed-cell"]
    assert "1 of 2 runs failed" in result.stderr
    assert "x=3  failed-cell: ValueError: x must not be 3 (code cell 3, line 2)" in result.stderr
    assert (root / "out" / "summary.json").exists()
    assert (root / "out" / "x=3" / "sweep_square.ipynb").exists()


@pytest.mark.slow
def test_ctrl_c_stops_a_sweep_whose_cells_hang(tmp_path: Path):
    """Ctrl-C ends a sweep in seconds though its cells sleep a minute: the kernels are killed."""
    root = make_tiny_project(tmp_path / "tiny")
    process = subprocess.Popen(
        [KEDRO, "notebook", "run", NOTEBOOKS / "hangs.ipynb", "--grid", "seconds=60,61", "-w", "2"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # A terminal sends Ctrl-C's SIGINT to the foreground process group: give the command
        # its own group, with SIGINT handled as in a terminal (not ignored as in a background job).
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(5)
    os.killpg(process.pid, signal.SIGINT)
    started = time.monotonic()
    output, _ = process.communicate(timeout=60)
    assert time.monotonic() - started < 20, output[-2000:]
    assert process.returncode == 1
    assert "Aborted!" in output
