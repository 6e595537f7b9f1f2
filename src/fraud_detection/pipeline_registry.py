"""Project pipelines."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

SERVING_ONLY: tuple[str, ...] = ("inference",)
"""Pipelines the service runs on requests (``lab2prod.serving``); ``kedro run`` leaves them out
of ``__default__``: they need a request and the packaged model's inputs."""

ON_DEMAND: tuple[str, ...] = ("monitoring", "retraining")
"""Pipelines run by name, on their own schedule (``kedro run --pipelines monitoring``); ``kedro
run`` leaves them out: they need the service's prediction log, labels, a packaged model."""


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    ``find_pipelines()`` discovers every ``pipelines/<name>/`` package. With ``--pipeline NAME``
    it loads only that one, so the default is built from whatever was found.

    Returns:
        A mapping from pipeline names to ``Pipeline`` objects.
    """
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(
        (
            found
            for name, found in pipelines.items()
            if name != "__default__" and name not in SERVING_ONLY + ON_DEMAND
        ),
        Pipeline([]),
    )
    return pipelines
