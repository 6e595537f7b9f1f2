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
import re
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
        from lab2prod.contracts.report import VALIDATION_REPORT_DIR, write_failure_cases

        error = _validation_error(error)
        if error is None:
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
    return isinstance(error, user_errors) or any(
        found(error) is not None for found in (_validation_error, _storage_error)
    )


def _validation_error(error: BaseException) -> Any:
    """The broken contract itself, or the one behind a dataset's failure to save: a dataset
    that validates as it writes (``lab2prod.batched``, batch by batch) raises inside its
    ``save``, and Kedro wraps what ``save`` raises in a ``DatasetError``."""
    from kedro.validation import DataValidationError

    if isinstance(error, DataValidationError):
        return error
    broken = _behind_dataset_error(error, DataValidationError)
    if broken is not None and broken.dataset_name is None:
        # The catalog names the dataset of a failed save as the message's first word
        # ("model_input: Failed while saving ..."); the contract raised too deep to know it.
        name = str(error).split(":", 1)[0]
        broken.dataset_name = name if re.fullmatch(r"[\w.\-]+", name) else None
        broken.mode = broken.mode or "save"
    return broken


def _storage_error(error: BaseException) -> OSError | None:
    """The file or storage error (a missing file or bucket, access denied, no connection)
    behind a dataset's failure to load or save, if that is what it is."""
    return _behind_dataset_error(error, OSError)


def _behind_dataset_error(error: BaseException, kind: type[BaseException]) -> Any:
    """The first ``kind`` in the causes of ``error`` when it is a ``DatasetError``."""
    from kedro.io import DatasetError

    if not isinstance(error, DatasetError):
        return None
    cause = error.__cause__ or error.__context__
    seen = 0
    while cause is not None and seen < 20:
        if isinstance(cause, kind):
            return cause
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    return None


def _message(error: BaseException) -> str:
    from lab2prod.contracts.report import summary

    if (broken := _validation_error(error)) is not None:
        project_path = getattr(broken, "project_path", Path.cwd())
        return summary(broken, getattr(broken, "failure_cases_path", None), project_path)
    if (cause := _storage_error(error)) is not None:
        return (
            f"{type(error).__name__}: {error}\nCause: {type(cause).__name__}. Check the dataset's "
            "filepath and credentials in conf/ (set LAB2PROD_TRACEBACK=1 to see the traceback)."
        )
    return f"{type(error).__name__}: {error}"
