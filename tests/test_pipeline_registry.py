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
