"""execute_notebook: typed inputs and records, per-run output, and failures CI can trust."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from lab2prod.errors import (
    CellExecutionError,
    CellTimeoutError,
    KernelDiedError,
    MissingRecordError,
    NotebookParameterError,
    NotebookReadError,
)
from lab2prod.execute.runner import execute_notebook
from tests.conftest import ROOT

NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
TRANSACTIONS = pd.DataFrame(
    {"amount": [3.0, 80.0, 120.0, 640.0, 15.0], "is_fraud": [0, 0, 1, 1, 0]}
)


def _only_run_dir(output_dir: Path, stem: str) -> Path:
    (run_dir,) = (output_dir / stem).iterdir()
    return run_dir


def _cells(notebook: Path) -> list[dict[str, Any]]:
    return json.loads(notebook.read_text())["cells"]


def _text(cell: dict[str, Any]) -> str:
    return "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))


BAD_CALLS = [
    pytest.param(
        "unknown_parameter.ipynb",
        {"learning_rte": 0.2},
        {},
        "does not declare the parameter 'learning_rte' (did you mean 'learning_rate'?)",
        id="misspelt parameter",
    ),
    pytest.param(
        "unknown_parameter.ipynb",
        {},
        {"n_estimator": 10},
        "does not declare the input 'n_estimator' (did you mean 'n_estimators'?)",
        id="misspelt input",
    ),
    pytest.param(
        "no_parameters.ipynb",
        {"alpha": 1},
        {},
        "has no cell tagged 'parameters', so it cannot take the parameter 'alpha'",
        id="no parameters cell",
    ),
    pytest.param(
        "unknown_parameter.ipynb",
        {"learning_rate": np.float32(0.1)},
        {},
        "parameter 'learning_rate' holds a value of type numpy.float32",
        id="parameter papermill cannot write",
    ),
    pytest.param(
        "unknown_parameter.ipynb",
        {},
        {"learning_rate": object()},
        "input 'learning_rate' is of type object, which cannot be passed",
        id="input with no typed format",
    ),
    pytest.param(
        "unknown_parameter.ipynb",
        {"learning_rate": 0.1},
        {"learning_rate": 0.2},
        "'learning_rate' given both as a parameter and as an input",
        id="name given twice",
    ),
]


@pytest.mark.parametrize(("notebook", "parameters", "inputs", "message"), BAD_CALLS)
def test_bad_parameters_fail_before_any_kernel_starts(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    notebook: str,
    parameters: dict[str, Any],
    inputs: dict[str, Any],
    message: str,
):
    """A parameter or input the notebook cannot take fails with exit code 6; no kernel, no files."""
    from lab2prod.execute.kernel import ProjectKernelManager

    def no_kernel(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(ProjectKernelManager, "start_kernel", no_kernel)
    with pytest.raises(NotebookParameterError) as caught:
        execute_notebook(
            NOTEBOOKS / notebook, parameters=parameters, inputs=inputs, output_dir=tmp_path
        )
    assert message in str(caught.value)
    assert caught.value.exit_code == 6
    assert list(tmp_path.iterdir()) == []


def test_output_dir_and_run_dir_are_one_or_the_other(tmp_path: Path):
    """A run goes to a new folder in output_dir or to run_dir as given, never both."""
    with pytest.raises(ValueError, match="not both"):
        execute_notebook(
            NOTEBOOKS / "broken.ipynb", output_dir=tmp_path / "a", run_dir=tmp_path / "b"
        )
    with pytest.raises(ValueError, match="output_dir or run_dir"):
        execute_notebook(NOTEBOOKS / "broken.ipynb")
    assert list(tmp_path.iterdir()) == []


def test_exit_codes_tell_the_failures_apart():
    """Each kind of failure has its own exit code, for a CLI and for CI."""
    codes = {
        error.exit_code
        for error in (
            NotebookReadError,
            CellExecutionError,
            KernelDiedError,
            CellTimeoutError,
            NotebookParameterError,
            MissingRecordError,
        )
    }
    assert codes == {2, 3, 4, 5, 6, 7}


@pytest.mark.slow
def test_inputs_and_parameters_go_in_and_typed_records_come_back(tmp_path: Path):
    """A DataFrame input and a parameter reach the notebook; its records return as values."""
    result = execute_notebook(
        NOTEBOOKS / "records_values.ipynb",
        inputs={"transactions": TRANSACTIONS},
        parameters={"threshold": 100.0, "label": "weekly"},
        output_dir=tmp_path,
    )
    expected_by_fraud = TRANSACTIONS.groupby("is_fraud", as_index=False).agg(
        n=("amount", "size"), mean_amount=("amount", "mean")
    )
    assert result.records["fraud_rate"] == pytest.approx(0.4)
    assert result.records["label"] == "weekly"
    assert result.records["summary"] == {"rows": 5, "threshold": 100.0, "flagged": 2}
    pd.testing.assert_frame_equal(result.records["by_fraud"], expected_by_fraud)
    assert isinstance(result.records["amounts_plot"], Figure)

    run_dir = tmp_path / "records_values" / result.run_id
    assert result.notebook_path == run_dir / "records_values.ipynb"
    assert result.html_path == run_dir / "records_values.html"
    injected = [
        c for c in _cells(result.notebook_path) if "injected-inputs" in c["metadata"]["tags"]
    ]
    assert len(injected) == 1
    html = result.html_path.read_text()
    assert "groupby" in html and "mean_amount" in html


@pytest.mark.slow
def test_every_run_is_kept_and_hide_code_leaves_only_outputs(tmp_path: Path):
    """Two runs get two version folders; with hide_code the HTML shows outputs, not code."""
    first = execute_notebook(NOTEBOOKS / "records_values.ipynb", output_dir=tmp_path)
    second = execute_notebook(
        NOTEBOOKS / "records_values.ipynb", output_dir=tmp_path, hide_code=True
    )
    assert first.run_id != second.run_id
    assert sorted(p.name for p in (tmp_path / "records_values").iterdir()) == sorted(
        [first.run_id, second.run_id]
    )
    html = second.html_path.read_text()
    assert "mean_amount" in html and "groupby" not in html
    assert "groupby" in second.notebook_path.read_text()


@pytest.mark.slow
def test_failing_cell_names_notebook_cell_line_and_exception(tmp_path: Path):
    """A raising cell fails with exit code 3 naming where and what; the partial run is kept."""
    with pytest.raises(CellExecutionError) as caught:
        execute_notebook(NOTEBOOKS / "broken.ipynb", output_dir=tmp_path)
    error = caught.value
    assert (error.cell_index, error.line_number) == (3, 2)
    assert error.line == "result = ratio(total, divisor)"
    assert (error.ename, error.evalue) == ("ZeroDivisionError", "division by zero")
    assert error.exit_code == 3
    message = str(error)
    for part in (
        "broken.ipynb",
        "code cell 3",
        "result = ratio(total, divisor)",
        "ZeroDivisionError: division by zero",
        error.saved,
    ):
        assert part in message

    run_dir = _only_run_dir(tmp_path, "broken")
    assert Path(error.saved) == run_dir / "broken.ipynb"
    assert (run_dir / "broken.html").exists()
    cells = _cells(Path(error.saved))
    failed = next(c for c in cells if "ratio(total, divisor)" in "".join(c["source"]))
    assert any(o["output_type"] == "error" for o in failed["outputs"])
    never = next(c for c in cells if "never runs" in "".join(c["source"]))
    assert never["outputs"] == []


@pytest.mark.slow
@pytest.mark.parametrize("how", ["exit", "kill"], ids=["os._exit", "SIGKILL like the OOM killer"])
def test_dead_kernel_fails_within_seconds(tmp_path: Path, how: str):
    """A kernel that dies mid-cell is a 'kernel died' error (exit 4) in seconds, not a hang."""
    started = time.monotonic()
    with pytest.raises(KernelDiedError) as caught:
        execute_notebook(
            NOTEBOOKS / "kernel_dies.ipynb", parameters={"how": how}, output_dir=tmp_path
        )
    assert time.monotonic() - started < 30
    assert caught.value.exit_code == 4
    assert caught.value.cell_index == 3
    assert "kernel died while running code cell 3" in str(caught.value)
    assert caught.value.saved in str(caught.value)
    ran = [_text(c) for c in _cells(Path(caught.value.saved)) if c["cell_type"] == "code"]
    assert "the cells before the crash ran" in "".join(ran)


@pytest.mark.slow
def test_cell_running_too_long_is_stopped_by_the_timeout(tmp_path: Path):
    """A cell past timeout_per_cell is stopped with exit code 5, naming the cell and the fix."""
    started = time.monotonic()
    with pytest.raises(CellTimeoutError) as caught:
        execute_notebook(NOTEBOOKS / "hangs.ipynb", output_dir=tmp_path, timeout_per_cell=1)
    assert time.monotonic() - started < 30
    error = caught.value
    assert (error.exit_code, error.cell_index, error.timeout) == (5, 2, 1.0)
    for part in (
        "hangs.ipynb",
        "code cell 2",
        "1 s per-cell timeout",
        "timeout_per_cell",
        error.saved,
    ):
        assert part in str(error)
    assert Path(error.saved).exists()
