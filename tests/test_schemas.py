"""The example's data contracts: they hold on real pipeline output and stop a run on bad data."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pandera.errors
import pandera.pandas as pa
import pytest
from pandera.typing import Series

from fraud_detection import schemas
from fraud_detection.pipelines.inference_features.nodes import FeatureParams, build_features
from tests.conftest import kedro, make_project_copy
from tests.pipelines.inference_features.conftest import make_scoring_input

PROCESSING_OUTPUTS = (
    "data/02_intermediate/transactions_clean.parquet",
    "data/03_primary/activity_aggregates.parquet",
    "data/04_feature/scoring_input.parquet",
)


@pytest.fixture(scope="module")
def raw(small_run: Path) -> pd.DataFrame:
    return pd.read_parquet(small_run / "data/01_raw/transactions.parquet")


def _failures(model: type, frame: pd.DataFrame) -> set[tuple[str, str]]:
    with pytest.raises(pandera.errors.SchemaErrors) as caught:
        model.validate(frame, lazy=True)
    cases = caught.value.failure_cases
    return set(zip(cases["column"].astype(str), cases["check"].astype(str), strict=True))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("dataset", "model"),
    [
        ("data/01_raw/transactions.parquet", schemas.RawTransactions),
        ("data/02_intermediate/transactions_clean.parquet", schemas.CleanTransactions),
        ("data/03_primary/activity_aggregates.parquet", schemas.ActivityAggregates),
        ("data/04_feature/scoring_input.parquet", schemas.ScoringInput),
        ("data/05_model_input/model_input.parquet", schemas.ModelInput),
        ("data/07_model_output/test_predictions.parquet", schemas.Predictions),
    ],
)
def test_pipeline_output_meets_its_contract(small_run: Path, dataset: str, model: type):
    """Every table a real `kedro run` writes passes the contract on its catalog entry."""
    model.validate(pd.read_parquet(small_run / dataset), lazy=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("corrupt", "failure"),
    [
        (lambda f: f.assign(card_present=f["channel"] == "online"), "card_present_if_and_only_if"),
        (lambda f: f.assign(currency="USD"), "currency_of_the_country"),
        (lambda f: f.assign(device="pos_terminal"), "pos_terminal_if_and_only_if"),
    ],
    ids=["card-present-online", "currency-of-another-country", "terminal-online"],
)
def test_cross_column_checks(raw: pd.DataFrame, corrupt: Callable, failure: str):
    """A transaction whose columns contradict each other breaks the contract."""
    checks = {check for _, check in _failures(schemas.RawTransactions, corrupt(raw))}
    assert any(check.startswith(failure) for check in checks), checks


@pytest.mark.slow
def test_clean_table_must_be_in_time_order(small_run: Path):
    """The cleaned table is promised in time order; shuffled rows break it."""
    clean = pd.read_parquet(small_run / PROCESSING_OUTPUTS[0])
    shuffled = clean.sample(frac=1.0, random_state=0)
    assert ("CleanTransactions", "sorted_by_timestamp") in _failures(
        schemas.CleanTransactions, shuffled
    )


@pytest.mark.slow
def test_model_input_must_hold_every_feature_in_order(small_run: Path):
    """A model input missing a feature, or with features reordered, breaks the contract."""
    model_input = pd.read_parquet(small_run / "data/05_model_input/model_input.parquet")
    swapped = model_input[[*model_input.columns[:3], *reversed(model_input.columns[3:])]]
    assert ("ModelInput", "has_every_feature_in_order") in _failures(schemas.ModelInput, swapped)
    assert _failures(schemas.ModelInput, model_input.drop(columns=["log_amount"]))


def test_a_contract_checks_the_table_where_it_is():
    """Validating gives back the very frame, unchanged: no copy of the table is made."""
    model_input = build_features(make_scoring_input({}, {"amount": 55.0}), FeatureParams())
    before = model_input.copy()
    assert schemas.ModelInput.validate(model_input, lazy=True) is model_input
    pd.testing.assert_frame_equal(model_input, before)


def _model_input_batches(*ids: str) -> list[pd.DataFrame]:
    rows = [{"transaction_id": tx} for tx in ids]
    model_input = build_features(make_scoring_input(*rows), FeatureParams())
    return [model_input.iloc[:2], model_input.iloc[2:]]


def test_batches_are_checked_as_they_are_drawn_and_unique_columns_across_them():
    """Batches of a table pass through checked; a bad batch or an id that repeats one of an
    earlier batch stops the stream with Kedro's DataValidationError."""
    from kedro.validation import DataValidationError

    good = _model_input_batches("a", "b", "c")
    assert list(schemas.ModelInput.validate(iter(good), lazy=True)) == good

    repeated = _model_input_batches("a", "b", "a")
    with pytest.raises(DataValidationError, match=r"'transaction_id' must be unique.*1 of"):
        list(schemas.ModelInput.validate(iter(repeated), lazy=True))

    broken = _model_input_batches("a", "b", "c")
    broken[1] = broken[1].assign(log_amount=float("inf"))
    drawn = schemas.ModelInput.validate(iter(broken), lazy=True)
    assert next(drawn) is broken[0]
    with pytest.raises(DataValidationError, match="ModelInput"):
        next(drawn)


def test_a_batch_that_breaks_the_contract_is_reported_as_a_whole_table_is(tmp_path: Path):
    """A table saved batch by batch (``model_input``): a bad batch stops the save, no file is
    left, and the run's report is the one a whole table gets: failure cases on disk under the
    dataset's name, and a short message naming them, not the catalog's wrapped error."""
    from kedro.io import DataCatalog

    from lab2prod import hooks
    from lab2prod.contracts.report import VALIDATION_REPORT_DIR

    target = tmp_path / "data/05_model_input/model_input.parquet"
    catalog = DataCatalog.from_config(
        {
            "model_input": {
                "type": "lab2prod.batched.BatchedParquetDataset",
                "filepath": str(target),
                "validator": {"class": "fraud_detection.schemas.ModelInput"},
            }
        }
    )
    broken = _model_input_batches("a", "b", "c")
    broken[1] = broken[1].assign(log_amount=float("inf"))
    with pytest.raises(Exception) as caught:
        catalog.save("model_input", iter(broken))

    hooks.ContractHooks().on_pipeline_error(caught.value, {"project_path": str(tmp_path)})

    report = tmp_path / VALIDATION_REPORT_DIR / "model_input.csv"
    assert "log_amount" in report.read_text()
    message = hooks._message(caught.value)
    assert "model_input" in message and "log_amount" in message
    assert "Failed while saving" not in message and len(message.splitlines()) < 30
    assert not target.exists() and not list(target.parent.glob("*partial*"))


def test_a_contract_that_coerces_still_checks_a_copy():
    """A contract that converts dtypes returns converted data and leaves the caller's frame be."""

    class Amounts(schemas.Contract):
        amount: Series[float] = pa.Field(coerce=True)

    frame = pd.DataFrame({"amount": [1, 2]})
    validated = Amounts.validate(frame)
    assert validated["amount"].dtype == "float64"
    assert frame["amount"].dtype == "int64"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


CORRUPTIONS: list[tuple[str, Callable[[pd.DataFrame], pd.DataFrame], str]] = [
    ("nulls", lambda f: f.assign(amount=f["amount"].where(f.index % 7 != 0)), "amount"),
    ("negative-amount", lambda f: f.assign(amount=-f["amount"]), "amount"),
    (
        "unknown-category",
        lambda f: f.assign(merchant_category=f["merchant_category"].replace("grocery", "casino")),
        "merchant_category",
    ),
    ("wrong-dtype", lambda f: f.assign(customer_age=f["customer_age"].astype(str)), "customer_age"),
    ("missing-column", lambda f: f.drop(columns=["device"]), "device"),
    ("extra-column", lambda f: f.assign(promo_code="SPRING"), "promo_code"),
    (
        "duplicate-ids",
        lambda f: f.assign(transaction_id=f["transaction_id"].where(f.index % 2 == 0).ffill()),
        "transaction_id",
    ),
    (
        "future-timestamps",
        lambda f: f.assign(timestamp=f["timestamp"] + pd.Timedelta(days=3650)),
        "timestamp",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("corrupt", "column"),
    [(c, col) for _, c, col in CORRUPTIONS],
    ids=[name for name, _, _ in CORRUPTIONS],
)
def test_corrupt_raw_data_stops_data_processing(
    small_run: Path, tmp_path: Path, corrupt: Callable, column: str
):
    """Corrupt raw data: the run fails naming the column, writes a report, changes no output."""
    project = tmp_path / "project"
    shutil.copytree(small_run, project)
    raw_path = project / "data/01_raw/transactions.parquet"
    corrupt(pd.read_parquet(raw_path)).to_parquet(raw_path)
    before = {name: _digest(project / name) for name in PROCESSING_OUTPUTS}

    result = kedro(project, "run", "--pipelines", "data_processing")

    assert result.returncode != 0
    assert f"{column}" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) < 30
    report = "data/08_reporting/validation/raw_transactions.csv"
    assert report in result.stderr
    assert column in (project / report).read_text()
    assert {name: _digest(project / name) for name in PROCESSING_OUTPUTS} == before


def test_a_missing_input_file_is_one_short_message(tmp_path: Path):
    """A dataset whose file is missing stops the run with its name, path and cause, no traceback."""
    project = make_project_copy(tmp_path / "project")

    result = kedro(project, "run", "--pipelines", "data_processing")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "╭" not in result.stderr
    message = result.stderr.strip().splitlines()[-3:]
    assert message[0].startswith("DatasetError: raw_transactions: Failed while loading")
    assert message[-1].startswith("Cause: FileNotFoundError. Check the dataset's filepath")
