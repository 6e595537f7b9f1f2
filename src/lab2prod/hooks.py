"""Kedro hooks lab2prod registers in every project (``kedro.hooks`` entry point).

Broken data contracts: when a catalog dataset fails its ``validator:``, Kedro stops the run
with ``DataValidationError``. These hooks add what a person needs next: every failure case
written under ``data/08_reporting/validation/``, and, on the command line, the short summary
instead of a page of traceback (set ``LAB2PROD_TRACEBACK=1`` to see the traceback too). So is
a run the Dask cluster cannot take (``lab2prod.errors.ClusterError``: ``dask.yml``, the
scheduler's address, what cannot travel to workers, a node whose workers kept dying). A
dataset that cannot be read or written (a missing file or bucket, denied access, no connection)
is reported the same way: Kedro's message, naming the dataset and path, without the traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from kedro.framework.hooks import hook_impl

logger = logging.getLogger(__name__)


class ContractHooks:
    """Report contract failures of ``kedro run``: full cases on disk, a short terminal message."""

    def __init__(self) -> None:
        self._project_path: Path | None = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        self._project_path = Path(context.project_path)
        _install_excepthook()

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any]) -> None:
        from kedro.validation import DataValidationError

        from lab2prod.contracts.report import VALIDATION_REPORT_DIR, write_failure_cases

        if not isinstance(error, DataValidationError):
            return
        project_path = self._project_path or Path(run_params.get("project_path") or Path.cwd())
        report = write_failure_cases(error, project_path / VALIDATION_REPORT_DIR)
        error.failure_cases_path = report  # read by the excepthook's summary
        error.project_path = project_path
        if report is not None:
            logger.error("Failure cases of '%s' written to %s", error.dataset_name, report)


contract_hooks = ContractHooks()


def _install_excepthook() -> None:
    """Print data and parameter errors as their message alone; others go to the previous hook."""
    previous = sys.excepthook
    if getattr(previous, "_lab2prod", False):
        return

    def excepthook(
        kind: type[BaseException], error: BaseException, tb: TracebackType | None
    ) -> None:
        if os.environ.get("LAB2PROD_TRACEBACK") or not _is_user_error(error):
            previous(kind, error, tb)
            return
        sys.stderr.write(f"\n{_message(error)}\n")

    excepthook._lab2prod = True  # type: ignore[attr-defined]
    sys.excepthook = excepthook


def _is_user_error(error: BaseException) -> bool:
    from kedro.validation import DataValidationError
    from kedro.validation.exceptions import ParameterValidationError

    from lab2prod.errors import ClusterError, LineageError

    user_errors = DataValidationError | ParameterValidationError | ClusterError | LineageError
    return isinstance(error, user_errors) or (_storage_error(error) is not None)


def _storage_error(error: BaseException) -> OSError | None:
    """The file or storage error (a missing file or bucket, access denied, no connection)
    behind a dataset's failure to load or save, if that is what it is."""
    from kedro.io import DatasetError

    if not isinstance(error, DatasetError):
        return None
    cause = error.__cause__ or error.__context__
    seen = 0
    while cause is not None and seen < 20:
        if isinstance(cause, OSError):
            return cause
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    return None


def _message(error: BaseException) -> str:
    from kedro.validation import DataValidationError

    from lab2prod.contracts.report import summary

    if isinstance(error, DataValidationError):
        project_path = getattr(error, "project_path", Path.cwd())
        return summary(error, getattr(error, "failure_cases_path", None), project_path)
    if (cause := _storage_error(error)) is not None:
        return (
            f"{type(error).__name__}: {error}\nCause: {type(cause).__name__}. Check the dataset's "
            "filepath and credentials in conf/ (set LAB2PROD_TRACEBACK=1 to see the traceback)."
        )
    return f"{type(error).__name__}: {error}"
