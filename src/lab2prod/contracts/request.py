"""Serving requests derived from a training contract: pandera model in, pydantic model out.

A service validates each record of a request with the pydantic model (types, ranges, allowed
categories, no NaN or infinity), which also gives the OpenAPI schema; the contract's other
checks (across columns, custom ones) then run on the batch
(``lab2prod.serving.frames.ContractBatch``). Both come from the one contract the training data
is held to, and split its checks by the one list of :data:`~lab2prod.contracts.vocabulary.
FIELD_CHECKS`, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from lab2prod.contracts.vocabulary import (
    INT64_MAX,
    INT64_MIN,
    ColumnKind,
    field_constraints,
    frame_schema,
    request_kind,
)
from lab2prod.errors import ContractError


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
    no per-value meaning (uniqueness, custom checks) are left to the batch.

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
    schema = frame_schema(contract)
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


def _field(schema_name: str | None, column_name: str, column: Any) -> tuple[Any, Any]:
    kind = request_kind(schema_name, column_name, column.dtype)
    constraints: dict[str, Any] = {}
    allowed: tuple[Any, ...] | None = None
    for check in column.checks:
        found = field_constraints(check)
        if found is not None:  # else the batch runs it
            allowed = found.pop("allowed", allowed)
            constraints.update(found)
    if kind is ColumnKind.INT and allowed is None:
        # The batch holds int64: a larger integer is the field's error, not the service's.
        if "ge" not in constraints and "gt" not in constraints:
            constraints["ge"] = INT64_MIN
        if "le" not in constraints and "lt" not in constraints:
            constraints["le"] = INT64_MAX
    python_type = kind.python_type
    annotation: Any = Literal[allowed] if allowed is not None else python_type
    if kind is not ColumnKind.DATETIME and allowed is None:
        constraints["strict"] = True
    if kind is ColumnKind.FLOAT and allowed is None:
        constraints["allow_inf_nan"] = False
    field = Field(..., description=column.description, title=column.title, **constraints)
    if column.nullable:
        annotation = annotation | None
    return Annotated[annotation, field], ...
