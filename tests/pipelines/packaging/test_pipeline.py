"""The ``packaging`` pipeline run by Kedro, saving through the project's BentoModelDataset."""

from __future__ import annotations

import pandas as pd
import yaml
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner
from sklearn.linear_model import LogisticRegression

from fraud_detection.pipelines.packaging import create_pipeline
from lab2prod.serving import read_package
from tests.conftest import ROOT
from tests.pipelines.training.conftest import add_params, load_conf, validated_params


def test_pipeline_saves_the_model_to_the_bentoml_store():
    """With conf/base's catalog entry, a run adds a model the service can load."""
    train_set = pd.DataFrame({"x0": [0.0, 1.0, 2.0, 3.0], "is_fraud": [0, 0, 1, 1]})
    model = LogisticRegression().fit(train_set[["x0"]], train_set["is_fraud"])
    entries = yaml.safe_load((ROOT / "conf/base/catalog_packaging.yml").read_text())
    catalog = DataCatalog.from_config(entries, save_version="2026-11-26T12.00.00.000Z")
    catalog["model"] = model
    catalog["metrics"] = {"model": {"pr_auc": 0.5}, "threshold": 0.4}
    catalog["train_set"] = train_set
    catalog["reference_profile"] = {"lab2prod_profile": 1, "columns": []}
    raw = {**load_conf("parameters_training"), **load_conf("parameters_inference_features")}
    add_params(catalog, validated_params(create_pipeline(), raw))

    SequentialRunner().run(create_pipeline(), catalog)

    package = read_package("fraud_detection:latest")
    assert package.pipeline == "inference"
    assert package.inputs == {"decision_threshold": 0.4}
    assert package.metadata["provenance"]["kedro_run_id"] == "2026-11-26T12.00.00.000Z"
    assert package.metadata["provenance"]["training_data"]["rows"] == 4
    assert package.documents == {"reference_profile": {"lab2prod_profile": 1, "columns": []}}


def test_pipeline_wires_the_documented_datasets():
    """Packaging reads what training, evaluation and the reference wrote and saves
    packaged_model."""
    pipeline = create_pipeline()
    assert pipeline.inputs() == {
        "model",
        "metrics",
        "train_set",
        "params:inference_features",
        "params:training.split",
        "params:training.model",
        "reference_profile",
    }
    assert pipeline.all_outputs() == {"packaged_model"}
