"""`kedro contract check`: validate datasets on demand, exit 0 or 1 with the run's report."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from kedro.framework.startup import bootstrap_project

from lab2prod.cli import commands
from tests.conftest import kedro


@pytest.fixture
def project(small_run: Path, tmp_path: Path) -> Path:
    """A throwaway copy of a project on which `kedro run` completed."""
    copy = tmp_path / "project"
    shutil.copytree(small_run, copy)
    return copy


def _check(project: Path, *args: str):
    metadata = bootstrap_project(project)
    return CliRunner().invoke(commands, ["contract", "check", *args], obj=metadata)


@pytest.mark.slow
def test_all_contracts_pass_on_pipeline_output(project: Path):
    """With no names, every dataset declaring a validator is checked; all pass, exit 0."""
    result = _check(project)
    assert result.exit_code == 0, result.output
    for name in ("raw_transactions", "transactions_clean", "scoring_input", "model_input"):
        assert f"{name}: passed" in result.output


@pytest.mark.slow
def test_broken_dataset_fails_with_report(project: Path):
    """A dataset breaking its contract: exit 1, the summary, and every case on disk."""
    path = project / "data/03_primary/activity_aggregates.parquet"
    frame = pd.read_parquet(path)
    frame.loc[frame.index[:5], "tx_count_1h"] = -1
    frame.to_parquet(path)

    result = _check(project, "activity_aggregates", "model_input")

    assert result.exit_code == 1
    assert "activity_aggregates: failed" in result.output
    assert "tx_count_1h: greater_than_or_equal_to(0) — 5 cases" in result.output
    assert "model_input: passed" in result.output
    report = project / "data/08_reporting/validation/activity_aggregates.csv"
    assert len(pd.read_csv(report).query("column == 'tx_count_1h'")) == 5


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("raw_transaction", "did you mean 'raw_transactions'"),
        ("customers", "no validator declared"),
    ],
)
def test_unknown_or_unchecked_names(project: Path, name: str, message: str):
    """A typo gets a suggestion and exit 1; a dataset without a contract is reported skipped."""
    result = _check(project, name)
    assert message in result.output
    assert result.exit_code == (1 if "did you mean" in message else 0)


@pytest.mark.slow
def test_missing_data_is_an_error_not_a_crash(project: Path):
    """Checking a dataset whose file does not exist yet says so, with no traceback."""
    (project / "data/04_feature/scoring_input.parquet").unlink()
    result = _check(project, "scoring_input")
    assert result.exit_code == 1
    assert "no data yet" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.slow
def test_real_invocation(project: Path):
    """The installed `kedro contract check` command runs in a project and exits 0."""
    result = kedro(project, "contract", "check", "raw_transactions", "test_predictions")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "raw_transactions: passed" in result.stdout
    assert "test_predictions: passed" in result.stdout
