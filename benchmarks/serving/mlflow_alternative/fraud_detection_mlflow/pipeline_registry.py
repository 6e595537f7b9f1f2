"""The example's training and inference pipelines bound as kedro-mlflow documents it.

``kedro run --pipelines training`` trains the model, chooses its threshold and, at the end of the
run, kedro-mlflow logs the ``inference`` pipeline with both as an MLflow model (only a run of the
``PipelineML`` pipeline alone logs it: a sum of pipelines is a plain ``Pipeline``).

One adaptation: kedro-mlflow's model runs the pipeline on a bare catalog, outside a Kedro
session, so a node's typed parameters arrive as the YAML's dict instead of the model their
signature names (``'dict' object has no attribute 'night_end_hour'``). ``build_features`` is
wrapped to build them, as the session does.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from kedro.pipeline import Pipeline, node
from kedro_mlflow.pipeline import pipeline_ml_factory

from fraud_detection.pipelines import evaluation, inference, training
from fraud_detection.pipelines.inference_features.nodes import FeatureParams, build_features


def build_features_from_dict(scoring_input: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """``build_features`` with its parameters given as the YAML's dict."""
    return build_features(scoring_input, FeatureParams(**params))


def _inference() -> Pipeline:
    nodes = [
        node(build_features_from_dict, n.inputs, n.outputs[0], name=n.name)
        if n.func is build_features
        else n
        for n in inference.create_pipeline().nodes
    ]
    return Pipeline(nodes)


def register_pipelines() -> dict[str, Pipeline]:
    """``training``: what makes the inference pipeline's inputs, bound to that pipeline."""
    training_ml = pipeline_ml_factory(
        training=training.create_pipeline()
        + evaluation.create_pipeline().to_outputs("decision_threshold"),
        inference=_inference(),
        input_name="scoring_input",
    )
    return {"training": training_ml, "__default__": training_ml}
