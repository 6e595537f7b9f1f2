"""The committed notebooks run headless, top to bottom, in the project's environment."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT

NOTEBOOKS = sorted(p.relative_to(ROOT) for p in (ROOT / "notebooks").glob("*.ipynb"))
"""Exploration notebooks, run top to bottom here; reports/ run as pipeline nodes instead."""
ALL_NOTEBOOKS = sorted(p.relative_to(ROOT) for p in (ROOT / "notebooks").rglob("*.ipynb"))


@pytest.fixture(scope="module")
def project_kernel(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module) -> str:
    """A kernel spec for this environment's Python, found before any user-wide ``python3``."""
    from ipykernel.kernelspec import install

    prefix = tmp_path_factory.mktemp("kernels")
    name = "lab2prod-test"
    install(kernel_name=name, prefix=str(prefix))
    monkeypatch_module.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    return name


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.mark.parametrize("notebook", ALL_NOTEBOOKS, ids=str)
def test_notebook_committed_without_outputs(notebook: Path):
    """Notebooks are committed clean: no outputs, no execution counts."""
    nb = json.loads((ROOT / notebook).read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=str)
def test_notebook_runs_headless(notebook: Path, small_run: Path, project_kernel: str):
    """Each notebook executes without error against the data of a real `kedro run`."""
    path = small_run / notebook
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=project_kernel,
        timeout=300,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "40,000 transactions" in text
