"""Values in a comparable form, on both sides of ``--verify``: in the kernel and in Kedro.

``--verify`` inserts, after the last cell of each section, a cell that calls ``capture`` for
every dataset the section produces; ``capture`` hands the value back with ``record()`` in the
form ``comparable`` gives it. The pipeline's value goes through ``comparable`` too, so both
sides are compared in the same form: DataFrames as they are, a Series as a one-column frame,
an array as its shape and values, an estimator as its predictions on the data it was fitted
on, plain values as JSON. Runs in the kernel: numpy and pandas are imported only when present.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

KINDS_RECORD = "lab2prod_verify_kinds"
"""The record that maps each captured record's name to its kind."""

_kinds: dict[str, str] = {}


def capture(name: str, value: Callable[[], Any], predict_on: Callable[[], Any] | None) -> None:
    """Record a notebook variable for ``--verify`` under ``name``.

    Args:
        name: The record's name.
        value: Returns the variable's value (a ``NameError`` means it is not defined).
        predict_on: Returns the data an estimator was fitted on, or ``None``.
    """
    from lab2prod.execute.record import record

    try:
        data = predict_on() if predict_on is not None else None
        kind, form = comparable(value(), data)
    except NameError as exc:
        kind, form = f"undefined in the notebook ({exc})", None
    if form is not None:
        record(name, form)
        if kind == "model":
            record(f"{name}_on", comparable(data, None)[1])
    _kinds[name] = kind
    record(KINDS_RECORD, dict(_kinds))


def comparable(value: Any, predict_on: Any = None) -> tuple[str, Any]:
    """The kind of a value and a form of it that ``record()`` keeps (``None``: not comparable).

    Kinds: ``frame`` (pandas), ``polars``, ``series`` (as a one-column frame), ``array``
    (``{"shape", "values"}``), ``model`` (its predictions on ``predict_on``), ``value`` (JSON);
    anything else is ``"unsupported: <type>"``.
    """
    pandas, numpy = sys.modules.get("pandas"), sys.modules.get("numpy")
    if pandas is not None and isinstance(value, pandas.DataFrame):
        return "frame", value
    polars = sys.modules.get("polars")
    if polars is not None and isinstance(value, polars.DataFrame):
        return "polars", value
    if pandas is not None and isinstance(value, pandas.Series):
        return "series", value.to_frame(name="value" if value.name is None else str(value.name))
    if numpy is not None and isinstance(value, numpy.ndarray) and value.dtype.kind in "biuf":
        return "array", {"shape": list(value.shape), "values": value.tolist()}
    if predict_on is not None and callable(getattr(value, "predict", None)):
        predictions = value.predict(predict_on)
        return "model", {
            "predictions": numpy.asarray(predictions).tolist() if numpy else list(predictions)
        }
    try:
        json.dumps(value, default=_numpy_scalar)
    except (TypeError, ValueError):
        return f"unsupported: {type(value).__module__}.{type(value).__qualname__}", None
    return "value", json.loads(json.dumps(value, default=_numpy_scalar))


def _numpy_scalar(value: Any) -> Any:
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.generic):
        return value.item()
    raise TypeError(type(value).__name__)
