"""Everything the service needs besides its code, gathered from the training run.

The node returns a plain dict; the catalog's ``packaged_model`` entry
(``lab2prod.serving.BentoModelDataset``) turns it into a BentoML model with its provenance.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from fraud_detection.pipelines.inference.nodes import Classifier
from fraud_detection.pipelines.inference_features.nodes import FeatureParams
from fraud_detection.pipelines.training.nodes import ModelParams, SplitParams


def package_model(
    model: Classifier,
    metrics: dict[str, Any],
    train_set: pd.DataFrame,
    features: FeatureParams,
    split: SplitParams,
    model_params: ModelParams,
    reference_profile: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Gather the fitted model, the inference pipeline's fixed inputs, metrics and parameters.

    Args:
        model: The fitted fraud model.
        metrics: The evaluation's metrics; ``threshold`` is the decision threshold chosen on the
            validation period.
        train_set: The rows the model was trained on (fingerprinted, not stored).
        features: The feature parameters the model was trained with: serving must use the same.
        split: How the time span was split.
        model_params: The model's hyper-parameters.
        reference_profile: The profile the monitoring compares production with (the
            ``reference`` pipeline's), kept in the package as a document.

    Returns:
        The package (see ``lab2prod.serving.BentoModelDataset.save``): ``model`` and
        ``decision_threshold`` under the names the ``inference`` pipeline reads them as.

    Raises:
        ValueError: If ``metrics`` holds no threshold.
    """
    if "threshold" not in metrics:
        raise ValueError(
            f"metrics holds no 'threshold' (keys: {sorted(metrics)}); run the evaluation "
            "pipeline first: it chooses the decision threshold and writes metrics.json"
        )
    return {
        "artifacts": {"model": model},
        "inputs": {"decision_threshold": float(metrics["threshold"])},
        "parameters": {"inference_features": features.model_dump(mode="json")},
        "metadata": {
            "metrics": metrics,
            "feature_columns": [str(name) for name in model.feature_names_in_],
            "training": {
                "split": split.model_dump(mode="json"),
                "model": model_params.model_dump(mode="json"),
            },
        },
        "training_data": train_set,
        **({"documents": {"reference_profile": reference_profile}} if reference_profile else {}),
    }
