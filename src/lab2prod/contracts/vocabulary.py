"""The words every contract module shares: column kinds, checks a field can carry, int64 bounds.

A pandera contract is read in several places: a request model is derived from it
(``request.py``), the serving batch is built and checked by it (``lab2prod.serving.frames``,
``lab2prod.serving.columnar``), and a draft is inferred from data (``infer.py``). Each reads a
column's kind from its dtype, and the first two must agree on which checks the request model
enforces per field (the others run on the batch): that is said once, here.

- :class:`ColumnKind` and :func:`column_kind`: the one dtype -> kind mapping; a kind's Python
  type in a JSON request (:attr:`ColumnKind.python_type`), or none.
- :data:`FIELD_CHECKS` and :func:`field_constraints`: the pandera checks a request field
  expresses, and the pydantic constraints each becomes.
- :data:`INT64_MIN`, :data:`INT64_MAX`: the range of the integer columns a batch is built of.
- :func:`frame_schema`: a ``DataFrameModel`` unwrapped to its ``DataFrameSchema``.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from lab2prod.errors import ContractError

if TYPE_CHECKING:
    from pandera.api.checks import Check
    from pandera.api.pandas.container import DataFrameSchema

__all__ = [
    "FIELD_CHECKS",
    "INT64_MAX",
    "INT64_MIN",
    "ColumnKind",
    "column_kind",
    "field_constraints",
    "frame_schema",
    "request_kind",
]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
"""The range of the int64 columns a batch is built of: a request integer outside it is the
field's error, not the service's."""


class ColumnKind(enum.StrEnum):
    """What a column holds, as far as contracts care."""

    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    STR = "str"
    CATEGORY = "category"
    DATETIME = "datetime"
    DATE = "date"
    OTHER = "other"

    @property
    def python_type(self) -> type | None:
        """The Python type of a request field of this kind, or ``None`` if JSON cannot carry it
        (a date, a duration, an object of no known kind)."""
        return _PYTHON_TYPES.get(self)

    @classmethod
    def of_python_type(cls, annotation: Any) -> ColumnKind | None:
        """The kind of a request field annotated ``annotation`` (``str`` is ``STR``), or None."""
        return _KINDS_OF_TYPES.get(annotation)


_PYTHON_TYPES: dict[ColumnKind, type] = {
    ColumnKind.BOOL: bool,
    ColumnKind.INT: int,
    ColumnKind.FLOAT: float,
    ColumnKind.STR: str,
    ColumnKind.CATEGORY: str,
    ColumnKind.DATETIME: dt.datetime,
}
_KINDS_OF_TYPES: dict[Any, ColumnKind] = {
    bool: ColumnKind.BOOL,
    int: ColumnKind.INT,
    float: ColumnKind.FLOAT,
    str: ColumnKind.STR,
    dt.datetime: ColumnKind.DATETIME,
}
# First match wins: "datetime" before "date", "bool" and "uint" before the rest.
_DTYPE_PREFIXES: tuple[tuple[str, ColumnKind], ...] = (
    ("bool", ColumnKind.BOOL),
    ("int", ColumnKind.INT),
    ("uint", ColumnKind.INT),
    ("float", ColumnKind.FLOAT),
    ("datetime", ColumnKind.DATETIME),
    ("timestamp", ColumnKind.DATETIME),
    ("date", ColumnKind.DATE),
    ("str", ColumnKind.STR),
    ("object", ColumnKind.STR),
    ("category", ColumnKind.CATEGORY),
)


def column_kind(dtype: Any) -> ColumnKind:
    """The kind of a pandera (or pandas, numpy) dtype: ``int64``, ``Int64`` and ``uint8`` are
    ``INT``, ``boolean`` is ``BOOL``, ``string[python]`` and ``object`` are ``STR``,
    ``datetime64[us, UTC]`` is ``DATETIME``, ``timedelta64[ns]`` is ``OTHER``."""
    text = str(dtype).lower()
    for prefix, kind in _DTYPE_PREFIXES:
        if text.startswith(prefix):
            return kind
    return ColumnKind.OTHER


def request_kind(schema_name: str | None, column_name: str, dtype: Any) -> ColumnKind:
    """The kind of a contract column a request carries.

    Raises:
        ContractError: If a JSON request cannot carry the column's dtype.
    """
    kind = column_kind(dtype)
    if kind.python_type is None:
        raise ContractError(
            f"Column {column_name!r} of {schema_name} has dtype {dtype}, which a JSON request "
            "cannot carry; use bool, int, float, str or datetime in the contract, or exclude the "
            "column."
        )
    return kind


def _bound(key: str, stat: str) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    return lambda stats: {key: stats[stat]}


def _in_range(stats: Mapping[str, Any]) -> dict[str, Any]:
    lower = "ge" if stats.get("include_min", True) else "gt"
    upper = "le" if stats.get("include_max", True) else "lt"
    return {lower: stats["min_value"], upper: stats["max_value"]}


def _str_length(stats: Mapping[str, Any]) -> dict[str, Any]:
    constraints: dict[str, Any] = {}
    if stats.get("exact_value") is not None:
        constraints["min_length"] = constraints["max_length"] = stats["exact_value"]
    if stats.get("min_value") is not None:
        constraints["min_length"] = stats["min_value"]
    if stats.get("max_value") is not None:
        constraints["max_length"] = stats["max_value"]
    return constraints


FIELD_CHECKS: Mapping[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "greater_than": _bound("gt", "min_value"),
    "greater_than_or_equal_to": _bound("ge", "min_value"),
    "less_than": _bound("lt", "max_value"),
    "less_than_or_equal_to": _bound("le", "max_value"),
    "in_range": _in_range,
    "isin": lambda stats: {"allowed": tuple(stats["allowed_values"])},
    "str_length": _str_length,
}
"""The pandera checks a request field expresses, by name, and the constraints each becomes from
its statistics: pydantic ``Field`` keywords, or ``allowed`` (the values of a ``Literal``). Every
other check (across columns, custom) runs on the batch."""


def field_constraints(check: Check) -> dict[str, Any] | None:
    """The per-field constraints ``check`` is, or ``None`` when no single field can express it
    (the batch must run it)."""
    translate = FIELD_CHECKS.get(check.name)
    return None if translate is None else translate(check.statistics or {})


def frame_schema(contract: Any) -> DataFrameSchema:
    """The ``DataFrameSchema`` of a pandera ``DataFrameModel`` class, or the schema itself.

    Raises:
        ContractError: If ``contract`` is neither.
    """
    to_schema = getattr(contract, "to_schema", None)
    schema = to_schema() if to_schema is not None else contract
    if not hasattr(schema, "columns"):
        raise ContractError(
            f"{contract!r} is not a pandera DataFrameModel or DataFrameSchema: pass the contract "
            "class itself, e.g. request_model(ScoringRequest)."
        )
    return schema
