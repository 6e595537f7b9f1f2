"""Check catalog datasets against their contracts on demand, without running a pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from lab2prod.contracts.report import VALIDATION_REPORT_DIR, summary, write_failure_cases
from lab2prod.errors import did_you_mean

if TYPE_CHECKING:
    from kedro.io import DataCatalog

Status = Literal["passed", "failed", "skipped", "errored"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking one dataset."""

    dataset: str
    status: Status
    message: str = ""
    report: Path | None = None

    @property
    def passed(self) -> bool:
        """Whether the dataset is not known to be bad (passed, or has no contract)."""
        return self.status in ("passed", "skipped")

    def render(self) -> str:
        """One line for a pass or a skip; the full summary for a failure or an error."""
        head = f"{self.dataset}: {self.status}"
        if not self.message:
            return head
        return f"{head} ({self.message})" if self.passed else f"{head}\n{self.message}"


def check_datasets(
    catalog: DataCatalog, names: list[str] | None, project_path: Path
) -> list[CheckResult]:
    """Validate datasets against the contracts on their catalog entries.

    The data is loaded raw (the catalog's own validation is bypassed) and validated lazily, so
    every failure is reported, and its failure cases are written under
    ``data/08_reporting/validation/`` as a ``kedro run`` would.

    Args:
        catalog: The project's catalog.
        names: Datasets to check; ``None`` checks every dataset declaring a ``validator:``.
        project_path: Project root, for the report folder and relative paths in messages.

    Returns:
        One result per dataset, in the order asked.
    """
    from kedro.validation import DataValidationError, resolve_validator
    from kedro.validation.exceptions import ValidationConfigurationError

    if names is None:
        names = sorted(catalog.validator_specs)
    results = []
    for name in names:
        if name not in catalog:
            hint = did_you_mean(name, catalog)
            hint = f"; {hint}" if hint else "."
            results.append(CheckResult(name, "errored", f"not in the catalog{hint}"))
            continue
        dataset = catalog.get(name)  # materialises factory entries and their validator specs
        spec = catalog.validator_specs.get(name)
        if spec is None:
            results.append(CheckResult(name, "skipped", "no validator declared"))
            continue
        try:
            validator = resolve_validator(spec)
        except ValidationConfigurationError as exc:
            results.append(CheckResult(name, "errored", str(exc)))
            continue
        if not dataset.exists():
            results.append(
                CheckResult(name, "errored", "no data yet: run the pipeline that produces it first")
            )
            continue
        try:
            validator.validate(dataset.load())
        except DataValidationError as exc:
            exc.dataset_name, exc.mode = name, "check"
            report = write_failure_cases(exc, project_path / VALIDATION_REPORT_DIR)
            results.append(CheckResult(name, "failed", summary(exc, report, project_path), report))
            continue
        results.append(CheckResult(name, "passed"))
    return results
