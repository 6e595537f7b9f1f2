"""The ``training`` pipeline run by Kedro on an in-memory catalog."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner
from kedro.validation import ParameterValidationError

from fraud_detection.pipelines.training import create_pipeline
from fraud_detection.pipelines.training.nodes import ModelParams
from tests.pipelines.training.conftest import FEATURES, add_params, load_conf, validated_params


def _catalog(model_input: pd.DataFrame, raw_params: dict) -> DataCatalog:
    catalog = DataCatalog({})
    catalog["model_input"] = model_input
    add_params(catalog, validated_params(create_pipeline(), raw_params))
    return catalog


def test_pipeline_trains_both_models_with_the_project_parameters(model_input):
    """With conf/base parameters, three time splits and two fitted models come out."""
    catalog = _catalog(model_input, load_conf("parameters_training"))

    outputs = SequentialRunner().run(create_pipeline(), catalog)

    assert set(outputs) == {"validation_set", "test_set", "model", "baseline_model"}
    assert 0 < len(catalog.load("validation_set")) < len(model_input)
    for name in ("model", "baseline_model"):
        model = catalog.load(name)
        assert list(model.feature_names_in_) == FEATURES
        assert model.predict_proba(model_input[FEATURES])[:, 1].max() <= 1.0


def test_project_parameters_build_the_typed_models():
    """Kedro turns conf/base/parameters_training.yml into the nodes' typed parameters."""
    params = validated_params(create_pipeline(), load_conf("parameters_training"))
    assert isinstance(params["training"]["model"], ModelParams)
    assert params["training"]["model"] == ModelParams()


@pytest.mark.parametrize(
    ("group", "values", "message"),
    [
        ("model", {"learning_rate": -0.1}, r"(?s)Parameter 'training.model'.*learning_rate"),
        ("split", {"train_fraction": 0.9}, r"(?s)Parameter 'training.split'.*must be 1"),
        ("baseline", {"C": 0}, r"(?s)Parameter 'training.baseline'.*C"),
    ],
)
def test_bad_parameter_fails_naming_the_key(model_input, group, values, message):
    """A bad value in parameters_training.yml stops the run before any node, naming the key."""
    raw = copy.deepcopy(load_conf("parameters_training"))
    raw["training"][group].update(values)
    with pytest.raises(ParameterValidationError, match=message):
        _catalog(model_input, raw)
