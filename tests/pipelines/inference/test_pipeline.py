"""The ``inference`` pipeline: the training features, then the score."""

from __future__ import annotations

from fraud_detection.pipelines import inference, inference_features
from fraud_detection.pipelines.inference_features.nodes import build_features


def test_pipeline_computes_the_training_features_then_scores():
    """Serving computes features with the function training ran (``inference_features`` runs
    it a batch of rows at a time), from the same parameters, into the same dataset."""
    pipeline = inference.create_pipeline()
    served = pipeline.nodes[0]
    trained = inference_features.create_pipeline().nodes[0]
    assert served.func is build_features
    assert served.inputs == trained.inputs[:2]
    assert served.outputs == trained.outputs
    assert served.name == trained.name
    assert pipeline.inputs() == {
        "scoring_input",
        "params:inference_features",
        "model",
        "decision_threshold",
    }
    assert pipeline.outputs() == {"predictions"}
