"""The ``data_processing`` pipeline run by Kedro on an in-memory catalog."""

from __future__ import annotations

import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from fraud_detection.pipelines.data_processing import create_pipeline
from fraud_detection.pipelines.data_processing.nodes import AGGREGATE_COLUMNS
from tests.pipelines.data_processing.conftest import T, make_raw


def test_pipeline_turns_raw_transactions_into_scoring_input():
    """From raw rows to scoring input: bad rows gone, each kept one with its earlier activity."""
    raw = make_raw(
        {"timestamp": T + pd.Timedelta(minutes=30), "amount": 20.0},
        {"timestamp": T, "amount": 10.0},
        {"timestamp": T + pd.Timedelta(minutes=40), "amount": -1.0},
        {"timestamp": T + pd.Timedelta(minutes=50), "merchant_category": "casino"},
    )
    catalog = DataCatalog({"raw_transactions": MemoryDataset(raw)})

    SequentialRunner().run(create_pipeline(), catalog)

    scoring_input = catalog.load("scoring_input")
    assert scoring_input["transaction_id"].tolist() == ["tx0000000001", "tx0000000000"]
    assert list(scoring_input.columns) == [*raw.columns, *AGGREGATE_COLUMNS]
    later = scoring_input.iloc[1]
    assert (later["tx_count_1h"], later["amount_sum_1h"]) == (1, 10.0)
    assert later["hours_since_prev_tx"] == 0.5


def test_pipeline_wires_the_documented_datasets():
    """The pipeline reads raw_transactions and writes the three tables of docs/data.md."""
    pipeline = create_pipeline()
    assert pipeline.inputs() == {"raw_transactions"}
    assert pipeline.all_outputs() == {"transactions_clean", "activity_aggregates", "scoring_input"}
