"""Scoring a file of requests with a packaged model, without a server: an offline check.

The package names the inference pipeline the service runs; compiled with the package's model,
threshold and parameters (``lab2prod.serving.compiled``), it scores the file exactly as the
service would, and the scored rows look like the prediction log: the request's columns, then
the prediction's.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from lab2prod.errors import MonitoringError


def score_requests(package: Any, requests: pd.DataFrame, pipeline: Any) -> pd.DataFrame:
    """Score ``requests`` with a packaged model's inference pipeline.

    Args:
        package: The model package (``lab2prod.serving.ModelPackage``).
        requests: One request record per row (the pipeline's one free input).
        pipeline: The project's pipeline of the package's name.

    Returns:
        ``requests`` with the prediction's columns added (a request column of the same name is
        replaced: the prediction's key, ``transaction_id``, is the request's own).

    Raises:
        MonitoringError: If the pipeline does not take one input and give one output, or the
            requests cannot be scored.
    """
    from lab2prod.serving.compiled import compile_pipeline

    bound = set(package.data) | {
        name for name in pipeline.inputs() if name == "parameters" or name.startswith("params:")
    }
    free = sorted(set(pipeline.inputs()) - bound)
    outputs = sorted(pipeline.outputs())
    if len(free) != 1 or len(outputs) != 1:
        raise MonitoringError(
            f"Model {package.tag}'s pipeline {package.pipeline!r} takes {free} and gives "
            f"{outputs}: an offline check needs exactly one request input and one output"
        )
    compiled = compile_pipeline(
        pipeline,
        inputs=free,
        outputs=outputs,
        data=package.data,
        parameters=package.parameters,
    )
    frame = requests.reset_index(drop=True)
    try:
        (predictions,) = compiled(**{free[0]: frame}).values()
    except (KeyError, ValueError, TypeError) as exc:
        raise MonitoringError(
            f"The requests cannot be scored by model {package.tag} ({type(exc).__name__}: {exc});"
            f" they need the columns of a request to the service, as "
            f"data/04_feature/scoring_input.parquet holds them"
        ) from exc
    predictions = predictions.reset_index(drop=True)
    return pd.concat(
        [frame.drop(columns=[c for c in predictions.columns if c in frame.columns]), predictions],
        axis=1,
    )
