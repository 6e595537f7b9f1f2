"""How a notebook run failed, told as lab2prod errors that name the cell, the line and the fix.

papermill and nbclient say a cell raised (``PapermillExecutionError``), the kernel died
(``DeadKernelError``) or a cell timed out (nbclient's ``CellTimeoutError``); the cell in
question is found in the partially executed notebook papermill saved, and numbered the way a
person counts it: among the notebook's own code cells, the injected ones left out.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from lab2prod.errors import CellExecutionError, CellTimeoutError, KernelDiedError

_PAPERMILL_MARKER_TAG = "papermill-error-cell-tag"
_INJECTED = {
    "injected-parameters": "papermill's injected-parameters cell",
    "injected-inputs": "the cell lab2prod injects to load the inputs (tagged injected-inputs)",
}
_CELL_FRAME = re.compile(r"Cell In\[(\d+)\], line (\d+)")


def cell_failed(notebook: Path, executed: Path, exc: Any) -> CellExecutionError:
    """The error for a cell that raised.

    Args:
        notebook: The notebook, as the caller named it.
        executed: The partially executed notebook papermill saved.
        exc: papermill's ``PapermillExecutionError``.
    """
    from papermill.exceptions import strip_color

    where, number = _describe(_executed_cells(executed), exc.cell_index)
    traceback = strip_color("\n".join(exc.traceback))
    line_number, line = _failing_line(traceback, exc.exec_count, exc.source)
    at = f", line {line_number}: `{line}`" if line is not None else ""
    message = (
        f"{notebook} failed in {where}{at}\n{exc.ename}: {exc.evalue}\n"
        f"The partially executed notebook is saved at {executed} (HTML beside it).\n\n"
        f"{traceback}"
    )
    return CellExecutionError(
        message,
        notebook=str(notebook),
        cell_index=number,
        saved=str(executed),
        execution_count=exc.exec_count,
        line=line,
        line_number=line_number,
        ename=exc.ename,
        evalue=exc.evalue,
        traceback=traceback,
    )


def timed_out(
    notebook: Path, executed: Path, timeout: int | None, exc: BaseException
) -> CellTimeoutError:
    """The error for a cell stopped by the per-cell timeout.

    Args:
        notebook: The notebook, as the caller named it.
        executed: The partially executed notebook papermill saved.
        timeout: The per-cell timeout in seconds; ``None`` when nbclient gave up waiting for a
            finished cell's output instead.
        exc: nbclient's ``CellTimeoutError``.
    """
    where, number = _running_cell(executed)
    if timeout is None:
        what = f"{where} finished but its output never arrived ({exc})"
    else:
        what = (
            f"{where} was still running after the {timeout} s per-cell timeout and was stopped. "
            f"If it needs longer, raise timeout_per_cell (now {timeout}); if it should not take "
            "that long, look for a loop that never ends or a wait that never returns"
        )
    return CellTimeoutError(
        f"{notebook}: {what}. The partially executed notebook is saved at {executed} (HTML "
        "beside it).",
        notebook=str(notebook),
        cell_index=number,
        saved=str(executed),
        timeout=float(timeout or 0),
    )


def kernel_died(notebook: Path, executed: Path, *, starting: bool = False) -> KernelDiedError:
    """The error for a kernel process that died, while starting or while running a cell.

    Args:
        notebook: The notebook, as the caller named it.
        executed: The partially executed notebook papermill saved.
        starting: It died before it ran any cell.
    """
    if starting:
        where, number = "before running any cell", None
        hint = f"check that ipykernel is installed for {sys.executable}"
    else:
        where, number = _running_cell(executed)
        where = f"while running {where}"
        hint = (
            "os._exit, a crash in native code, or the out-of-memory killer: check the cell's "
            "memory use"
        )
    return KernelDiedError(
        f"{notebook}: the kernel died {where}: its process exited or was killed ({hint}). The "
        f"partially executed notebook is saved at {executed} (HTML beside it).",
        notebook=str(notebook),
        cell_index=number,
        saved=str(executed),
    )


def _executed_cells(executed: Path) -> list[dict[str, Any]]:
    """The executed notebook's cells, without the marker cells papermill adds on failure."""
    cells = json.loads(executed.read_text(encoding="utf-8"))["cells"]
    return [c for c in cells if _PAPERMILL_MARKER_TAG not in c["metadata"].get("tags", [])]


def _running_cell(executed: Path) -> tuple[str, int | None]:
    """The cell that was running when the run stopped: the last one papermill started."""
    cells = _executed_cells(executed)
    started = [
        i for i, c in enumerate(cells) if c["metadata"].get("papermill", {}).get("start_time")
    ]
    if not started:
        return "before running any cell", None
    return _describe(cells, started[-1])


def _describe(cells: list[dict[str, Any]], index: int) -> tuple[str, int | None]:
    """How a person names executed cell ``index``, and its number among the notebook's own
    code cells (``None`` for an injected cell)."""
    tags = cells[index]["metadata"].get("tags", [])
    for tag, description in _INJECTED.items():
        if tag in tags:
            return description, None
    number = sum(
        1
        for cell in cells[: index + 1]
        if cell["cell_type"] == "code"
        and not set(_INJECTED) & set(cell["metadata"].get("tags", []))
    )
    return f"code cell {number}", number


def _failing_line(
    traceback: str, execution_count: int | None, source: str
) -> tuple[int | None, str | None]:
    """The failing cell's line that raised, from IPython's ``Cell In[n], line m`` frames."""
    lines = [
        int(line) for count, line in _CELL_FRAME.findall(traceback) if int(count) == execution_count
    ]
    if not lines:
        return None, None
    source_lines = source.splitlines()
    if not 0 < lines[-1] <= len(source_lines):
        return lines[-1], None
    return lines[-1], source_lines[lines[-1] - 1].strip()
