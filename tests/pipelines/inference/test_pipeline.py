"""The ``inference`` pipeline: the training feature node, then the score."""

from __future__ import annotations

from fraud_detection.pipelines import inference, inference_features


def test_pipeline_reuses_the_training_feature_node():
    """Serving computes features with the very node training ran, then scores them."""
    pipeline = inference.create_pipeline()
    features_node = inference_features.create_pipeline().nodes[0]
    assert features_node in pipeline.nodes
    assert pipeline.inputs() == {
        "scoring_input",
        "params:inference_features",
        "model",
        "decision_threshold",
    }
    assert pipeline.outputs() == {"predictions"}
