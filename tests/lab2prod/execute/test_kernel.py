"""The kernel is this environment's Python, whatever `python3` kernel spec the user has."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from lab2prod.execute.runner import execute_notebook
from tests.conftest import ROOT

NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"


def _bogus_python3_spec(kernels_root: Path, marker: Path) -> None:
    spec = kernels_root / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "Bogus", "language": "python"})
    )


@pytest.mark.slow
def test_user_python3_kernel_spec_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A user-level `python3` kernel spec pointing elsewhere is ignored: sys.executable runs."""
    from jupyter_client.kernelspec import KernelSpecManager

    marker = tmp_path / "bogus-kernel-started"
    _bogus_python3_spec(tmp_path / "data", marker)
    _bogus_python3_spec(tmp_path / "path", marker)
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "path"))
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "0")  # user dir before the venv's
    # The trap is set: Jupyter itself now resolves `python3` to the bogus spec.
    assert KernelSpecManager().get_kernel_spec("python3").display_name == "Bogus"

    result = execute_notebook(NOTEBOOKS / "no_parameters.ipynb", output_dir=tmp_path / "out")

    assert result.records["executable"] == sys.executable
    assert not marker.exists()
