"""A failed run's row: the status and one-line error come from the error class that stopped it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab2prod.errors import (
    CellExecutionError,
    CellTimeoutError,
    KernelDiedError,
    MissingRecordError,
    NotebookError,
)
from lab2prod.execute.results import Run, RunResult
from lab2prod.execute.summary import render_failures, rows


class QuotaError(NotebookError):
    """A failure class that exists only here: nothing in execute/ knows of it."""

    exit_code = 9
    status = "over-quota"

    def summary(self) -> str:
        return "the run used more than its share"


def _cell_error(line_number: int | None) -> CellExecutionError:
    return CellExecutionError(
        "long message\nwith a traceback",
        notebook="n.ipynb",
        cell_index=2,
        saved="s",
        execution_count=4,
        line="1 / 0",
        line_number=line_number,
        ename="ZeroDivisionError",
        evalue="division by zero\nmore",
        traceback="",
    )


FAILURES = [
    (_cell_error(3), "failed-cell", "ZeroDivisionError: division by zero (code cell 2, line 3)"),
    (_cell_error(None), "failed-cell", "ZeroDivisionError: division by zero (code cell 2)"),
    (
        KernelDiedError("m", notebook="n", cell_index=None, saved="s"),
        "kernel-died",
        "the kernel died (before running any cell)",
    ),
    (
        CellTimeoutError("m", notebook="n", cell_index=1, saved="s", timeout=2.5),
        "timeout",
        "code cell 1 ran past the 2.5 s per-cell timeout",
    ),
    (
        CellTimeoutError("m", notebook="n", cell_index=None, saved="s", timeout=0),
        "timeout",
        "the output of an injected cell never arrived",
    ),
    (
        MissingRecordError(
            "n.ipynb did not record 'x'\nfix", notebook="n", record="x", recorded=[]
        ),
        "error",
        "MissingRecordError: n.ipynb did not record 'x'",
    ),
    (OSError("disk full"), "error", "OSError: disk full"),
    (QuotaError("m", notebook="n"), "over-quota", "the run used more than its share"),
]


@pytest.mark.parametrize(("error", "status", "line"), FAILURES)
def test_a_failed_run_reports_its_errors_status_and_one_line(error, status, line):
    """Status, error column and failure line are the error's; a new class needs no table."""
    result = RunResult.failed(Run("x=1", {"x": 1}), error, duration=1.0, notebook=None)

    assert (result.status, result.error, result.exception) == (status, line, error)
    assert rows([result], Path("."))[0] | {"parameters": None} == {
        "run": "x=1",
        "parameters": None,
        "status": status,
        "error": line,
        "duration_s": 1.0,
        "notebook": None,
        "records": {},
        "record_files": {},
    }
    assert render_failures([result]) == f"  x=1  {status}: {line}"
    assert result.exit_code == getattr(error, "exit_code", 1)
