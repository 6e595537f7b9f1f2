"""Serving requests derived from a training contract: pandera model in, pydantic model out.

A service validates each record of a request with the pydantic model (types, ranges, allowed
categories, no NaN or infinity), which also gives the OpenAPI schema; the pandera model's
frame-level checks (across columns) then run on the batch, with :func:`validate_frame`. Both
come from the one contract the training data is held to, so the two cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from lab2prod.errors import ContractError

if TYPE_CHECKING:
    import pandas as pd
    from pandera.api.pandas.container import DataFrameSchema

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
"""The range of the int64 columns a batch is built of."""
# pandera check name -> (pydantic constraint, statistic holding its value)
_BOUNDS: dict[str, tuple[str, str]] = {
    "greater_than": ("gt", "min_value"),
    "greater_than_or_equal_to": ("ge", "min_value"),
    "less_than": ("lt", "max_value"),
    "less_than_or_equal_to": ("le", "max_value"),
}


def request_model(
    contract: Any,
    *,
    name: str | None = None,
    exclude: Collection[str] = (),
    examples: list[dict[str, Any]] | None = None,
) -> type[BaseModel]:
    """Build the pydantic model of one request record from a pandera contract.

    Each column becomes a required field of its Python type; ``ge``/``gt``/``le``/``lt`` and
    ``in_range`` checks become bounds, ``isin`` a ``Literal`` of the allowed values,
    ``str_length`` length limits, ``nullable`` an optional value. Floats refuse NaN and
    infinity; numbers, strings and booleans are strict (``"12"`` is not a number). Checks with
    no per-value meaning (uniqueness, custom checks) are left to :func:`validate_frame`.

    Args:
        contract: A pandera ``DataFrameModel`` class or ``DataFrameSchema`` (pandas backend).
        name: Name of the model (default: the contract's).
        exclude: Columns the request does not carry (a label, say).
        examples: Example records for the JSON schema (OpenAPI).

    Returns:
        A pydantic model class that forbids unknown fields.

    Raises:
        ContractError: If a column cannot be expressed per record (a regex column, an unknown
            dtype).
    """
    schema = _frame_schema(contract)
    fields: dict[str, Any] = {}
    for column_name, column in schema.columns.items():
        if column_name in exclude:
            continue
        if column.regex:
            raise ContractError(
                f"Column pattern {column_name!r} of {schema.name} matches columns by regex: a "
                "request needs named fields. Name the columns in the contract, or exclude it."
            )
        fields[column_name] = _field(schema.name, column_name, column)
    config = ConfigDict(extra="forbid", allow_inf_nan=False, title=name or schema.name)
    if examples:
        config["json_schema_extra"] = {"examples": examples}
    return create_model(name or schema.name or "Request", __config__=config, **fields)


def validate_frame(contract: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Run the contract on a batch built from validated records (frame-level checks included).

    Raises:
        pandera.errors.SchemaErrors: With every failure case, as pandera reports them.
    """
    return _frame_schema(contract).validate(frame, lazy=True)


def _frame_schema(contract: Any) -> DataFrameSchema:
    to_schema = getattr(contract, "to_schema", None)
    schema = to_schema() if to_schema is not None else contract
    if not hasattr(schema, "columns"):
        raise ContractError(
            f"{contract!r} is not a pandera DataFrameModel or DataFrameSchema: pass the contract "
            "class itself, e.g. request_model(ScoringRequest)."
        )
    return schema


def _field(schema_name: str | None, column_name: str, column: Any) -> tuple[Any, Any]:
    kind = _python_type(schema_name, column_name, column.dtype)
    constraints: dict[str, Any] = {}
    allowed: tuple[Any, ...] | None = None
    for check in column.checks:
        stats = check.statistics or {}
        if check.name in _BOUNDS:
            key, stat = _BOUNDS[check.name]
            constraints[key] = stats[stat]
        elif check.name == "in_range":
            lower = "ge" if stats.get("include_min", True) else "gt"
            upper = "le" if stats.get("include_max", True) else "lt"
            constraints[lower], constraints[upper] = stats["min_value"], stats["max_value"]
        elif check.name == "isin":
            allowed = tuple(stats["allowed_values"])
        elif check.name == "str_length":
            if stats.get("exact_value") is not None:
                constraints["min_length"] = constraints["max_length"] = stats["exact_value"]
            if stats.get("min_value") is not None:
                constraints["min_length"] = stats["min_value"]
            if stats.get("max_value") is not None:
                constraints["max_length"] = stats["max_value"]
    if kind is int and allowed is None:
        # The batch holds int64: a larger integer is the field's error, not the service's.
        if "ge" not in constraints and "gt" not in constraints:
            constraints["ge"] = _INT64_MIN
        if "le" not in constraints and "lt" not in constraints:
            constraints["le"] = _INT64_MAX
    annotation: Any = Literal[allowed] if allowed is not None else kind
    if kind is not dt.datetime and allowed is None:
        constraints["strict"] = True
    if kind is float and allowed is None:
        constraints["allow_inf_nan"] = False
    field = Field(..., description=column.description, title=column.title, **constraints)
    if column.nullable:
        annotation = annotation | None
    return Annotated[annotation, field], ...


def _python_type(schema_name: str | None, column_name: str, dtype: Any) -> type:
    text = str(dtype).lower()
    if text.startswith(("bool",)):
        return bool
    if text.startswith(("int", "uint")):
        return int
    if text.startswith("float"):
        return float
    if text.startswith(("str", "string", "object", "category")):
        return str
    if text.startswith(("datetime", "timestamp")):
        return dt.datetime
    raise ContractError(
        f"Column {column_name!r} of {schema_name} has dtype {dtype}, which a JSON request cannot "
        "carry; use bool, int, float, str or datetime in the contract, or exclude the column."
    )
