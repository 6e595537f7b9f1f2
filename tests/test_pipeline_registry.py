"""The registry: ``kedro run`` runs every pipeline but the serving-only ones."""

from __future__ import annotations

from kedro.framework.project import configure_project, pipelines


def test_default_run_ends_with_packaging_and_leaves_inference_to_the_service():
    """__default__ includes packaging (the model reaches the store), not inference."""
    configure_project("fraud_detection", preserve_logging=True)
    pipelines.set_requested(None)
    default = pipelines["__default__"]
    names = {node.name for node in default.nodes}
    assert "package_model" in names
    assert "score_transactions" not in names
    assert {node.name for node in pipelines["inference"].nodes} == {
        "build_features",
        "score_transactions",
    }


def test_default_run_makes_the_reference_and_leaves_the_monitoring_to_its_schedule():
    """__default__ profiles the reference (packaging puts it in the model); the monitoring and
    retraining pipelines run by name only: they need a prediction log."""
    configure_project("fraud_detection", preserve_logging=True)
    pipelines.set_requested(None)
    names = {node.name for node in pipelines["__default__"].nodes}
    assert "build_reference" in names
    assert not names & {node.name for node in pipelines["monitoring"].nodes}
