"""Reports of broken contracts: a short summary for the terminal, every failure case on disk."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab2prod.io import write_bytes_atomic

if TYPE_CHECKING:
    from kedro.validation import DataValidationError

VALIDATION_REPORT_DIR = Path("data") / "08_reporting" / "validation"
"""Where failure cases go, relative to the project root."""


def failure_cases(error: DataValidationError) -> Any | None:
    """Every failure case pandera found, as the DataFrame it reported (pandas or polars).

    Kedro's ``DataValidationError`` keeps a few examples per check; pandera's own error, its
    ``__cause__``, holds them all. An error raised in another process (a Dask worker) carries
    them as ``failure_cases`` itself: pickling turns pandera's into a string.
    """
    own = getattr(error, "failure_cases", None)
    return own if own is not None else getattr(error.__cause__, "failure_cases", None)


def write_failure_cases(error: DataValidationError, directory: Path) -> Path | None:
    """Write every failure case of ``error`` to ``directory/<dataset>.csv``, atomically.

    Args:
        error: A validation failure raised by the Kedro catalog or by ``validate_dataset``.
        directory: Folder of the reports; created when missing.

    Returns:
        The file written, or ``None`` when the error carries no failure cases.
    """
    cases = failure_cases(error)
    if cases is None:
        return None
    buffer = io.BytesIO()
    if hasattr(cases, "write_csv"):  # polars
        cases.write_csv(buffer)
    else:
        cases.to_csv(buffer, index=False)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", error.dataset_name or "dataset")
    path = directory / f"{name}.csv"
    write_bytes_atomic(path, buffer.getvalue())
    return path


def summary(error: DataValidationError, report: Path | None, project_path: Path) -> str:
    """The terminal message: Kedro's grouped summary plus where the full report is."""
    lines = [str(error)]
    if report is not None:
        shown = report.relative_to(project_path) if report.is_relative_to(project_path) else report
        lines.append(f"All {_count(error)} failure case(s) are in {shown}")
    lines.append(
        "Fix the data (or, if the data is right, the contract named above), then run again."
    )
    return "\n".join(lines)


def _count(error: DataValidationError) -> int:
    cases = failure_cases(error)
    return len(cases) if cases is not None else sum(f.failure_count for f in error.failures)
