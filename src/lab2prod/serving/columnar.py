"""A fast path from a JSON request body straight to the columns of a batch.

Validating a 1,000-record request with the pydantic request model, then building the batch's
frame from the model instances, costs about as much CPU as the inference pipeline itself:
per-record objects, made and taken apart again. :class:`ColumnarReader` reads the body once
(pydantic's own JSON parser), checks each column at once (exact types, bounds, categories,
lengths, finiteness, unique ids) and hands back the columns, about twice as fast.

It is a fast path, not a second validator: it accepts only what it can prove the request model
accepts, with the same values, and answers ``None`` for anything else (an error to report, an
unusual but valid spelling such as a timestamp with an offset). The caller then takes the
request model's path, which names the field and the problem exactly as before. A request
model with a constraint this module does not know turns the fast path off altogether.
"""

from __future__ import annotations

import math
import operator
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import annotated_types
import numpy as np
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import from_json

from lab2prod.contracts.vocabulary import ColumnKind

__all__ = ["ColumnarReader"]

# ISO 8601 without an offset, as pydantic and numpy both read it to the same microsecond.
_NAIVE_TIMESTAMP = re.compile(
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?"
)
_REJECT = object()


@dataclass(frozen=True)
class _FieldRule:
    """What one field of the record model accepts, as far as the fast path can prove it."""

    name: str
    kind: ColumnKind  # BOOL, INT, FLOAT, STR or DATETIME
    lower: tuple[float, bool] | None = None  # (bound, inclusive)
    upper: tuple[float, bool] | None = None
    allowed: frozenset[Any] | None = None
    min_length: int | None = None
    max_length: int | None = None


# The JSON values (as parsed) each kind takes as they are: an int is a float, a datetime a string.
_TYPES = {
    ColumnKind.INT: {int},
    ColumnKind.FLOAT: {float, int},
    ColumnKind.BOOL: {bool},
    ColumnKind.STR: {str},
    ColumnKind.DATETIME: {str},
}


class ColumnarReader:
    """Reads ``{field: [record, ...]}`` bodies into columns, when the request model would accept
    them as they are.

    Args:
        record: The pydantic model of one record (``lab2prod.contracts.request.request_model``).
        field: The request's list field, e.g. ``transactions``.
        max_records: The most records a request may carry.
        unique: Record fields that must not repeat within a request.
    """

    def __init__(
        self,
        record: type[BaseModel],
        *,
        field: str,
        max_records: int,
        unique: Sequence[str] = (),
    ) -> None:
        self.field = field
        self.max_records = max_records
        self.unique = tuple(unique)
        columns = [_rule(name, info) for name, info in record.model_fields.items()]
        self.enabled = (
            bool(columns) and all(column is not None for column in columns) and _plain(record)
        )
        self._columns: list[_FieldRule] = [c for c in columns if c is not None]
        self._names = [c.name for c in self._columns]
        self._get = operator.itemgetter(*self._names) if self._names else None

    def read(self, body: bytes) -> dict[str, Any] | None:
        """The body's records as columns, in the record model's field order, or ``None`` where
        the request model must decide.

        Numbers and timestamps come as numpy arrays (``int64``, ``float64``,
        ``datetime64[us]``), booleans and strings as lists.
        """
        if not self.enabled:
            return None
        try:
            document = from_json(body, allow_inf_nan=False)
        except ValueError:
            return None
        if not isinstance(document, dict) or document.keys() != {self.field}:
            return None
        records = document[self.field]
        if not isinstance(records, list) or not 1 <= len(records) <= self.max_records:
            return None
        # As many keys as fields, and every field found: exactly the fields.
        width = len(self._names)
        for record in records:
            if type(record) is not dict or len(record) != width:
                return None
        try:
            if width == 1:
                rows: Any = [[self._get(r)] for r in records]  # type: ignore[misc]
            else:
                rows = list(map(self._get, records))  # type: ignore[arg-type]
        except KeyError:
            return None
        values = dict(zip(self._names, map(list, zip(*rows, strict=True)), strict=True))
        columns: dict[str, Any] = {}
        for column in self._columns:
            converted = _convert(column, values[column.name])
            if converted is _REJECT:
                return None
            columns[column.name] = converted
        for name in self.unique:  # the values are of known, hashable types by now
            if len(set(values[name])) != len(records):
                return None
        return columns


# Model settings that do not change which values a record takes, or how they read.
_NEUTRAL_CONFIG = {"title", "json_schema_extra", "allow_inf_nan", "extra"}


def _plain(record: type[BaseModel]) -> bool:
    """Whether the record model takes fields exactly as their annotations say: no validators,
    aliases or settings that transform values (``str_strip_whitespace``, say)."""
    config = record.model_config
    decorators = record.__pydantic_decorators__
    return (
        set(config) <= _NEUTRAL_CONFIG
        and config.get("extra") == "forbid"
        and not any(
            (
                decorators.validators,
                decorators.field_validators,
                decorators.model_validators,
                decorators.root_validators,
            )
        )
        and all(
            info.alias is None and info.validation_alias is None
            for info in record.model_fields.values()
        )
    )


def _rule(name: str, info: FieldInfo) -> _FieldRule | None:
    """What a field accepts, or ``None`` if this module cannot prove it (a nullable field, a
    constraint it does not know)."""
    annotation = info.annotation
    allowed: frozenset[Any] | None = None
    if typing.get_origin(annotation) is typing.Literal:
        options = typing.get_args(annotation)
        if not all(type(option) is str for option in options):
            return None
        kind, allowed = ColumnKind.STR, frozenset(options)
    elif isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return None
    else:
        kind = ColumnKind.of_python_type(annotation)
        if kind is None:
            return None
    if kind is not ColumnKind.DATETIME and allowed is None and not _strict(info):
        return None
    lower = upper = None
    min_length = max_length = None
    for meta in info.metadata:
        if isinstance(meta, annotated_types.Ge | annotated_types.Gt):
            lower = (meta.ge, True) if isinstance(meta, annotated_types.Ge) else (meta.gt, False)
        elif isinstance(meta, annotated_types.Le | annotated_types.Lt):
            upper = (meta.le, True) if isinstance(meta, annotated_types.Le) else (meta.lt, False)
        elif isinstance(meta, annotated_types.MinLen):
            min_length = meta.min_length
        elif isinstance(meta, annotated_types.MaxLen):
            max_length = meta.max_length
        elif type(meta).__name__ == "Strict" or (
            type(meta).__name__ == "AllowInfNan" and not meta.allow_inf_nan
        ):
            continue
        else:
            return None
    if kind in (ColumnKind.BOOL, ColumnKind.DATETIME) and (
        lower or upper or min_length or max_length
    ):
        return None
    return _FieldRule(name, kind, lower, upper, allowed, min_length, max_length)


def _strict(info: FieldInfo) -> bool:
    return any(type(meta).__name__ == "Strict" and meta.strict for meta in info.metadata)


def _convert(column: _FieldRule, values: list[Any]) -> Any:
    """The column as the batch holds it, or ``_REJECT`` unless the request model would take
    every value as it is."""
    if not set(map(type, values)) <= _TYPES[column.kind]:
        return _REJECT
    if column.kind is ColumnKind.DATETIME:
        return _timestamps(values)
    if column.kind is ColumnKind.STR:
        if column.allowed is not None and not set(values) <= column.allowed:
            return _REJECT
        if column.min_length is not None or column.max_length is not None:
            lengths = list(map(len, values))
            if column.min_length is not None and min(lengths) < column.min_length:
                return _REJECT
            if column.max_length is not None and max(lengths) > column.max_length:
                return _REJECT
        return values
    if column.kind is ColumnKind.BOOL:
        return values
    try:
        array = np.array(values, dtype=np.int64 if column.kind is ColumnKind.INT else np.float64)
    except OverflowError:
        return _REJECT
    if column.kind is ColumnKind.FLOAT and not np.isfinite(array).all():
        return _REJECT
    return array if _within(array, column.lower, column.upper) else _REJECT


def _within(
    array: np.ndarray, lower: tuple[float, bool] | None, upper: tuple[float, bool] | None
) -> bool:
    if lower is not None:
        bound, inclusive = lower
        if not math.isfinite(bound) or not (array >= bound if inclusive else array > bound).all():
            return False
    if upper is not None:
        bound, inclusive = upper
        if not math.isfinite(bound) or not (array <= bound if inclusive else array < bound).all():
            return False
    return True


def _timestamps(values: list[str]) -> Any:
    """Naive ISO 8601 timestamps as ``datetime64[us]``, or ``_REJECT`` for any other spelling
    or a day that does not exist (the pattern lets 31 February through)."""
    match = _NAIVE_TIMESTAMP.fullmatch
    if not all(map(match, values)):
        return _REJECT
    try:
        return np.array(values, dtype="datetime64[us]")
    except ValueError:
        return _REJECT
