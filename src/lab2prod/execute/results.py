"""How the runs of a sweep went: the runs, their results, and a value as a table shows it.

The bottom of ``execute/``'s sweep side: ``grid.py`` makes the runs, ``sweep.py`` runs them into
results, ``summary.py`` writes and prints them; this module imports none of them. A failed
run's status and one-line error are its error's own (``NotebookError.status`` and
``summary()``, in ``lab2prod.errors``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab2prod.errors import NotebookError, one_line

OK = "ok"
"""The status of a run that finished."""


@dataclass(frozen=True)
class Run:
    """One planned run of a sweep.

    Attributes:
        name: Its folder's name, from the values that set it apart (filesystem-safe, unique).
        parameters: Every parameter it passes, by name.
    """

    name: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class RunResult:
    """How one run of a sweep went.

    Attributes:
        run: The run.
        status: ``ok``, or the status of the error that stopped it (``failed-cell``,
            ``kernel-died``, ``timeout``; ``error`` for any other).
        records: The values the notebook recorded that are numbers, strings, bools or None.
            Empty for a failed run (what it recorded before failing stays in ``records/``).
        record_files: Every other record (a list, dict, DataFrame or figure) by name: the path
            of its file, relative to the sweep's output directory.
        duration: Wall time of the run in seconds, kernel start and HTML included.
        notebook: The executed (or partially executed) notebook, or ``None`` if none was saved.
        error: What went wrong, in one line; ``None`` for ``ok``.
        exception: The error that stopped the run, ``None`` for ``ok``.
    """

    run: Run
    status: str
    records: dict[str, Any] = field(default_factory=dict)
    record_files: dict[str, str] = field(default_factory=dict)
    duration: float = 0.0
    notebook: Path | None = None
    error: str | None = None
    exception: BaseException | None = None

    @classmethod
    def failed(
        cls, run: Run, error: BaseException, *, duration: float, notebook: Path | None
    ) -> RunResult:
        """The result of a run ``error`` stopped: a ``NotebookError`` gives its own status and
        one-line summary; any other error is ``error`` with its class and first line."""
        if isinstance(error, NotebookError):
            status, summary = error.status, error.summary()
        else:
            status, summary = "error", one_line(error)
        return cls(
            run, status, duration=duration, notebook=notebook, error=summary, exception=error
        )

    @property
    def exit_code(self) -> int:
        """0 for ``ok``; the error's ``exit_code`` for a ``NotebookError``; 1 otherwise."""
        if self.exception is None:
            return 0
        return getattr(self.exception, "exit_code", 1)


@dataclass(frozen=True)
class SweepResult:
    """Every run of a sweep, in the planned order, and where their summary was written.

    Attributes:
        notebook: The notebook that was run.
        output_dir: The folder holding a folder per run and the summary files.
        results: One result per run, in the planned order.
        summary_csv: ``<output_dir>/summary.csv``.
        summary_json: ``<output_dir>/summary.json``.
        duration: Wall time of the whole sweep, in seconds.
    """

    notebook: Path
    output_dir: Path
    results: list[RunResult]
    summary_csv: Path
    summary_json: Path
    duration: float

    @property
    def failed(self) -> list[RunResult]:
        """The runs whose status is not ``ok``."""
        return [result for result in self.results if result.status != OK]

    @property
    def exit_code(self) -> int:
        """0 when every run succeeded; the failures' exit code when they share one; else 1."""
        codes = {result.exit_code for result in self.failed}
        return codes.pop() if len(codes) == 1 else (1 if codes else 0)


def is_scalar(value: Any) -> bool:
    """Whether a record is a number, string, bool or None: a value that fits in a table cell."""
    return value is None or isinstance(value, str | int | float | bool)


def format_value(value: Any) -> str:
    """A value as text for a name or a cell: strings as they are, others as Python writes them."""
    return value if isinstance(value, str) else repr(value)
