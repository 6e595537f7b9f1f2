"""Monitoring a model in production against the reference it was trained on.

- :func:`build_reference`: at training time, a profile of the model's inputs, scores and
  metrics (``reference.py``: quantile bins, categories, counts per chunk of time); it travels in
  the model package.
- :class:`ParquetLogDataset`: the prediction log (and the labels) as parts in a folder, local or
  on object storage.
- ``check.py``: a check from end to end, as Kedro nodes: the window's counts, the drift table
  (``drift.py``: PSI, Jensen-Shannon, Wasserstein, chi-square, thresholds calibrated on the
  reference's own variation, false-discovery rate across columns), decay against the evaluation
  (``performance.py``), the verdict and its reasons.
- :class:`PromotedModelDataset`: a retrained model stored only when it beats the one in service.

Names are imported on first use: ``kedro`` pays nothing for this package at start-up.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab2prod.errors import MonitoringError
    from lab2prod.monitoring.check import (
        LabelParams,
        Reference,
        WindowParams,
        check_drift,
        check_performance,
        count_window,
        drift_over_time,
        labelled_predictions,
        performance_over_time,
        reference_of,
        summarise,
    )
    from lab2prod.monitoring.drift import DriftParams, drift_table
    from lab2prod.monitoring.log import ParquetLog, ParquetLogDataset
    from lab2prod.monitoring.performance import PerformanceParams
    from lab2prod.monitoring.profiling import ReferenceParams, build_reference
    from lab2prod.monitoring.promotion import PromotedModelDataset
    from lab2prod.monitoring.reference import ReferenceProfile

__all__ = [
    "DriftParams",
    "LabelParams",
    "MonitoringError",
    "ParquetLog",
    "ParquetLogDataset",
    "PerformanceParams",
    "PromotedModelDataset",
    "Reference",
    "ReferenceParams",
    "ReferenceProfile",
    "WindowParams",
    "build_reference",
    "check_drift",
    "check_performance",
    "count_window",
    "drift_over_time",
    "drift_table",
    "labelled_predictions",
    "performance_over_time",
    "reference_of",
    "summarise",
]

_LAZY = {
    "MonitoringError": "lab2prod.errors",
    "LabelParams": "lab2prod.monitoring.check",
    "Reference": "lab2prod.monitoring.check",
    "WindowParams": "lab2prod.monitoring.check",
    "check_drift": "lab2prod.monitoring.check",
    "check_performance": "lab2prod.monitoring.check",
    "count_window": "lab2prod.monitoring.check",
    "drift_over_time": "lab2prod.monitoring.check",
    "labelled_predictions": "lab2prod.monitoring.check",
    "performance_over_time": "lab2prod.monitoring.check",
    "reference_of": "lab2prod.monitoring.check",
    "summarise": "lab2prod.monitoring.check",
    "DriftParams": "lab2prod.monitoring.drift",
    "drift_table": "lab2prod.monitoring.drift",
    "ParquetLog": "lab2prod.monitoring.log",
    "ParquetLogDataset": "lab2prod.monitoring.log",
    "PerformanceParams": "lab2prod.monitoring.performance",
    "PromotedModelDataset": "lab2prod.monitoring.promotion",
    "ReferenceParams": "lab2prod.monitoring.profiling",
    "build_reference": "lab2prod.monitoring.profiling",
    "ReferenceProfile": "lab2prod.monitoring.reference",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lab2prod.monitoring' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
