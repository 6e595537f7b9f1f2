"""Request records to a typed batch, and the contract checks no single field can express.

The request model (``lab2prod.contracts.request.request_model``) has already checked every field
of every record: types, bounds, categories. What is left of the contract is checked here, on the
whole batch at once: the checks across columns and the custom column checks ("not in the
future"). Running pandera's ``validate`` on each batch would do the same, at ~17 ms a call
whatever the batch size (measured: 1, 64 and 1,000 rows); calling the contract's own check
functions on the batch costs ~4 ms for 64 rows, and tells which rows fail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lab2prod.contracts.vocabulary import (
    FIELD_CHECKS,
    INT64_MAX,
    INT64_MIN,
    ColumnKind,
    frame_schema,
    request_kind,
)

if TYPE_CHECKING:
    from pandera.api.checks import Check
    from pydantic import BaseModel

# Column kinds converted per request, where a value can fail to fit; the others per batch.
_CONVERTED_EARLY = frozenset({ColumnKind.INT, ColumnKind.FLOAT, ColumnKind.DATETIME})
# Training data is read from parquet with microsecond timestamps (docs/data.md).
_TIMESTAMP_DTYPE = "datetime64[us]"


@dataclass(frozen=True)
class RowError:
    """One problem with one record of a batch.

    Attributes:
        row: The record's position in the batch.
        loc: The field it concerns, or ``()`` for the record as a whole.
        msg: What is wrong, for a person.
        type: A stable code for programs (``value_out_of_range``, ``contract_check``).
    """

    row: int
    loc: tuple[str, ...]
    msg: str
    type: str


class ContractBatch:
    """Turns validated request records into a typed DataFrame and runs the contract's checks.

    Args:
        contract: The pandera ``DataFrameModel`` (or ``DataFrameSchema``) the request model was
            derived from.

    Raises:
        ContractError: If a column has a dtype a JSON request cannot carry (as the request
            model derived from it would).
    """

    def __init__(self, contract: Any) -> None:
        self._schema = frame_schema(contract)
        self._kinds = {
            name: request_kind(self._schema.name, name, column.dtype)
            for name, column in self._schema.columns.items()
        }
        self._frame_checks: list[Check] = list(self._schema.checks)
        # The request model enforces the field checks on each record already.
        self._column_checks: list[tuple[str, Check]] = [
            (name, check)
            for name, column in self._schema.columns.items()
            for check in column.checks
            if check.name not in FIELD_CHECKS
        ]

    @property
    def columns(self) -> list[str]:
        """The contract's columns, in order."""
        return list(self._kinds)

    def frame(self, records: Sequence[BaseModel]) -> tuple[pd.DataFrame, list[RowError]]:
        """Build the batch: one row per record, the contract's columns and dtypes.

        Args:
            records: Records validated by the request model.

        Returns:
            The frame, and the records that cannot be represented (an integer beyond int64, a
            timestamp beyond pandas' range); their rows hold placeholders and must not be
            scored.
        """
        columns, errors = self.record_columns(records)
        return self.from_columns(columns, len(records)), errors

    def record_columns(self, records: Sequence[BaseModel]) -> tuple[dict[str, Any], list[RowError]]:
        """The records as the batch's columns, for :meth:`from_columns`.

        Numbers and timestamps are converted here, where a value can fail to fit (the errors
        returned); strings and booleans stay lists, converted once per merged batch.
        """
        errors: list[RowError] = []
        # One transposition in C instead of a getattr per field per record (4x faster).
        names = list(type(records[0]).model_fields) if records else list(self._kinds)
        rows = (r.__dict__.values() for r in records)
        values = dict(zip(names, map(list, zip(*rows, strict=True)), strict=False))
        columns: dict[str, Any] = {}
        for name, kind in self._kinds.items():
            column = values.get(name, [])
            if kind in _CONVERTED_EARLY:
                column = self._column(name, kind, column, errors)
            columns[name] = column
        return columns, errors

    def from_columns(self, columns: Mapping[str, Any], length: int) -> pd.DataFrame:
        """Build the batch from columns: those of :meth:`record_columns`, or those a
        :class:`~lab2prod.serving.columnar.ColumnarReader` accepted (the same for the same
        records), or several of either concatenated.

        Lists (strings, booleans) are converted as :meth:`frame` does; arrays are taken as they
        are (already typed).
        """
        return pd.DataFrame(self.typed_columns(columns), index=pd.RangeIndex(length))

    def typed_columns(self, columns: Mapping[str, Any]) -> dict[str, Any]:
        """The contract's columns of ``columns``, typed as :meth:`from_columns` types them
        (lists converted, arrays as they are): the frame's columns, without the frame."""
        return {
            name: self._column(name, kind, values, [])
            if isinstance(values := columns[name], list)
            else values
            for name, kind in self._kinds.items()
        }

    def check(self, frame: pd.DataFrame) -> list[RowError]:
        """Run the contract's checks that no single field can express, row by row.

        Returns:
            One error per failing row and check, naming the check (its ``error`` text when
            the contract gives one).
        """
        errors: list[RowError] = []
        for check in self._frame_checks:
            self._collect(check, frame, (), errors)
        for name, check in self._column_checks:
            self._collect(check, frame[name], (name,), errors)
        return errors

    @staticmethod
    def _collect(
        check: Check, data: pd.DataFrame | pd.Series, loc: tuple[str, ...], errors: list[RowError]
    ) -> None:
        passed = _row_results(check, data)
        what = f" ({check.error})" if check.error else ""
        for row in np.flatnonzero(~passed):
            errors.append(
                RowError(
                    int(row),
                    loc,
                    f"Breaks the contract check {check.name!r}{what}",
                    "contract_check",
                )
            )

    @staticmethod
    def _column(name: str, kind: ColumnKind, values: list[Any], errors: list[RowError]) -> Any:
        if kind is ColumnKind.DATETIME:
            return _timestamps(name, values, errors)
        if kind is ColumnKind.INT and None not in values:
            try:
                return np.array(values, dtype=np.int64)
            except OverflowError:
                return _clipped_ints(name, values, errors)
        if kind is ColumnKind.INT:
            return pd.array(values, dtype="Int64")
        if kind is ColumnKind.FLOAT:
            return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        if kind is ColumnKind.BOOL:
            return np.array(values, dtype=bool) if None not in values else pd.array(values)
        return pd.array(values, dtype="str")


def _clipped_ints(name: str, values: list[Any], errors: list[RowError]) -> np.ndarray:
    out = np.zeros(len(values), dtype=np.int64)
    for row, value in enumerate(values):
        if INT64_MIN <= value <= INT64_MAX:
            out[row] = value
        else:
            errors.append(
                RowError(
                    row,
                    (name,),
                    f"Input should fit in a 64-bit integer ({INT64_MIN} to {INT64_MAX})",
                    "value_out_of_range",
                )
            )
    return out


def _timestamps(name: str, values: list[Any], errors: list[RowError]) -> np.ndarray:
    """Naive UTC timestamps, as the training data holds them; aware ones are converted."""
    if any(value is not None and value.tzinfo is not None for value in values):
        values = list(values)
        for row, value in enumerate(values):
            if value is None or value.tzinfo is None:
                continue
            try:
                values[row] = value.astimezone(dt.UTC).replace(tzinfo=None)
            except OverflowError:
                errors.append(
                    RowError(row, (name,), "Timestamp is out of range in UTC", "value_out_of_range")
                )
                values[row] = None
    # pandas converts datetime objects ~15x faster than numpy does.
    return pd.DatetimeIndex(values, dtype=_TIMESTAMP_DTYPE).to_numpy()


def _row_results(check: Check, data: pd.DataFrame | pd.Series) -> np.ndarray:
    """Whether each row passes ``check``; a check giving one answer for the batch is asked row
    by row (a batch mixes requests, so its verdict cannot fall on all of them)."""
    output = _check_output(check, data)
    if isinstance(output, pd.Series | pd.DataFrame):
        if isinstance(output, pd.DataFrame):
            output = output.all(axis="columns")
        # pandera ignores missing values by default (ignore_na): a null passes.
        return output.fillna(check.ignore_na).to_numpy(dtype=bool)
    return np.array(
        [bool(_check_output(check, data.iloc[row : row + 1])) for row in range(len(data))],
        dtype=bool,
    )


def _check_output(check: Check, data: pd.DataFrame | pd.Series) -> Any:
    """The check's verdict on ``data``: a boolean per row, or one boolean.

    pandera's check backend is asked to preprocess and apply the check, and not to
    postprocess: that step collects the failure cases, which we do not use and which cost more
    than the checks themselves (2.1 ms against 1.0 ms per batch of the example's contract).
    """
    backend = check.get_backend(data)(check)
    output = backend.apply(backend.preprocess(data, None))
    if isinstance(output, pd.Series) and not output.index.equals(data.index):
        # ignore_na dropped the nulls before the check: they pass, as in pandera.
        output = output.reindex(data.index, fill_value=True)
    return output
