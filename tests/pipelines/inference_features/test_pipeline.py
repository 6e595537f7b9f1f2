"""The ``inference_features`` pipeline run by Kedro on an in-memory catalog."""

from __future__ import annotations

import pandas as pd
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from fraud_detection.pipelines.inference_features import create_pipeline
from fraud_detection.pipelines.inference_features.nodes import (
    BatchParams,
    FeatureParams,
    build_features,
    build_features_in_batches,
)
from tests.conftest import ROOT
from tests.pipelines.inference_features.conftest import make_scoring_input

PARAMETERS_FILE = ROOT / "conf" / "base" / "parameters_inference_features.yml"
PARAMS = FeatureParams(night_end_hour=6, far_from_home_km=100.0, home_currency="EUR")


def test_pipeline_turns_scoring_input_into_model_input():
    """Kedro runs the node on the catalog's scoring input and writes its features as model input."""
    scoring_input = make_scoring_input(
        {}, {"amount": 50.0, "channel": "online", "device": "tablet"}
    )
    catalog = DataCatalog(
        {
            "scoring_input": MemoryDataset(scoring_input),
            "params:inference_features": MemoryDataset(PARAMS),
            "params:feature_batches": MemoryDataset(BatchParams()),
        }
    )

    SequentialRunner().run(create_pipeline(), catalog)

    model_input = catalog.load("model_input")
    pd.testing.assert_frame_equal(model_input, build_features(scoring_input, PARAMS))
    assert model_input["is_online"].tolist() == [0.0, 1.0]


def test_shipped_parameters_build_the_typed_parameters():
    """conf/base's ``inference_features`` block is complete and valid for ``FeatureParams``."""
    block = yaml.safe_load(PARAMETERS_FILE.read_text())["inference_features"]
    params = FeatureParams.model_validate(block)
    assert params.model_dump() == block


def test_shipped_batch_parameters_build_the_typed_parameters():
    """conf/base's ``feature_batches`` block is valid, and whole row groups per batch."""
    block = yaml.safe_load(PARAMETERS_FILE.read_text())["feature_batches"]
    params = BatchParams.model_validate(block)
    assert params.model_dump() == block
    assert params.rows % (1024 * 1024) == 0


def test_batches_one_after_the_other_are_the_features_of_the_whole_table():
    """Cut into batches of 2 rows, the features are those of the whole table,
    on the same index; a table that fits one batch comes back as one DataFrame."""
    rows = [{"amount": 10.0 * (i + 1), "channel": ("online", "pos")[i % 2]} for i in range(5)]
    scoring_input = make_scoring_input({}, *rows)
    whole = build_features(scoring_input, PARAMS)

    batches = build_features_in_batches(scoring_input, PARAMS, BatchParams(rows=2))
    batches = list(batches)
    assert [len(batch) for batch in batches] == [2, 2, 2]
    pd.testing.assert_frame_equal(pd.concat(batches), whole)
    at_once = build_features_in_batches(scoring_input, PARAMS, BatchParams(rows=6))
    pd.testing.assert_frame_equal(at_once, whole)


def test_pipeline_wires_the_documented_datasets():
    """The pipeline reads scoring_input and its parameters, and writes model_input."""
    pipeline = create_pipeline()
    assert pipeline.inputs() == {
        "scoring_input",
        "params:inference_features",
        "params:feature_batches",
    }
    assert pipeline.all_outputs() == {"model_input"}
