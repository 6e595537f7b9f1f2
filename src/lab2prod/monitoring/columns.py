"""Scored batches as columns: held by reference, joined once per interval, not once per batch.

A serving worker hands what it scores to the prediction log and the live counts batch by batch,
dozens of small batches a second. Holding each as its columns (name to a numpy array, a pandas
array or a list) costs nothing on the request path; joining them costs one concatenation per
column per interval (:func:`concat`), done where it is needed (``sink.py``, ``live.py``), and the
log turns each join into Arrow once (:func:`arrow_columns`), then appends joins to each other
without copying (:func:`arrow_concat`). A frame per batch, and concatenating frames, costs more
than scoring the batch did: pandas' overhead per frame and per column (~30 µs to take three
columns out of a frame, measured), under the worker's GIL.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Same", "arrow_columns", "arrow_concat", "columns_of", "concat", "row_count"]


@dataclass(frozen=True, slots=True)
class Same:
    """One value for every row of a batch (a model's tag, the time it was scored)."""

    value: Any


def columns_of(data: Any, names: Sequence[str] | None = None) -> dict[str, Any]:
    """The columns of ``data`` (``names`` of them that it has, or all): a mapping of name to
    values, as they are; a pandas frame's, as arrays (numpy's where the dtype is numpy's,
    else pandas' own); ``None``: none."""
    if data is None:
        return {}
    if isinstance(data, Mapping):
        return dict(data) if names is None else {n: data[n] for n in names if n in data}
    series = data.items() if names is None else ((n, data[n]) for n in names if n in data)
    return {
        str(name): values.to_numpy() if isinstance(values.dtype, np.dtype) else values.array
        for name, values in series
    }


def row_count(data: Any) -> int:
    """The rows of ``data``: a frame's length, or the length of a mapping's first column."""
    if isinstance(data, Mapping):
        for values in data.values():
            return len(values)
        return 0
    return len(data)


def concat(parts: Sequence[Any], lengths: Sequence[int]) -> Any:
    """The values of ``parts`` one after the other.

    Args:
        parts: Each a column's values in one batch: a numpy array, a pandas array, a list, a
            :class:`Same`, or ``None`` where the batch lacks the column (missing values).
        lengths: The rows of each batch.

    Returns:
        A :class:`Same` if every part is the same one value, else the values: numpy arrays
        joined by numpy, pandas arrays of one type by that type, lists as a list, one value
        per batch repeated as a pandas array, anything else as an Arrow array (pyarrow finds
        the common type, or says why there is none).
    """
    if len(parts) == 1 and parts[0] is not None:
        return parts[0]
    if all(isinstance(part, Same) for part in parts):
        if all(_equal(part.value, parts[0].value) for part in parts):
            return parts[0]
        return _repeated([part.value for part in parts], lengths)
    parts = [_materialized(part, rows) for part, rows in zip(parts, lengths, strict=True)]
    kinds = {type(part) for part in parts}
    if kinds == {np.ndarray}:
        return np.concatenate(parts)
    if kinds == {list}:
        return list(itertools.chain.from_iterable(parts))
    if len(kinds) == 1 and hasattr(parts[0], "_concat_same_type"):
        # pandas' extension arrays (strings, nullable numbers, timestamps with a zone).
        return type(parts[0])._concat_same_type(parts)
    return _unified([_arrow(part) for part in parts]).combine_chunks()


def arrow_columns(columns: Mapping[str, Any], rows: int) -> dict[str, Any]:
    """``columns`` (``rows`` values each, or a :class:`Same`) as Arrow chunked arrays, typed as
    ``Table.from_pandas`` types a frame of the same columns."""
    import pyarrow as pa

    arrays = {}
    for name, values in columns.items():
        array = _arrow(_materialized(values, rows))
        arrays[name] = array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])
    return arrays


def arrow_concat(pieces: Sequence[Mapping[str, Any]], lengths: Sequence[int]) -> dict[str, Any]:
    """Pieces of :func:`arrow_columns` one after the other, without copying (a column missing
    from a piece: nulls there)."""
    import pyarrow as pa

    names = dict.fromkeys(name for piece in pieces for name in piece)
    return {
        name: _unified(
            [
                piece[name] if name in piece else pa.chunked_array([pa.nulls(rows)])
                for piece, rows in zip(pieces, lengths, strict=True)
            ]
        )
        for name in names
    }


def _repeated(values: list[Any], lengths: Sequence[int]) -> Any:
    import pandas as pd

    # As a frame would type the values (a string as pandas' string, a datetime with its
    # zone), each repeated for its batch's rows, without a Python object per row.
    return pd.array(values).repeat(np.asarray(lengths))


def _materialized(part: Any, rows: int) -> Any:
    if part is None:
        return [None] * rows
    if isinstance(part, Same):
        return _repeated([part.value], [rows])
    return part


def _arrow(values: Any) -> Any:
    import pyarrow as pa

    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values
    if isinstance(values, list):
        import pandas as pd

        values = pd.array(values)  # typed as a frame would: strings as large_string
    return pa.array(values, from_pandas=True)


def _unified(arrays: Sequence[Any]) -> Any:
    """One chunked array of ``arrays`` (arrays or chunked arrays); chunks of nulls only take
    the others' type."""
    import pyarrow as pa

    chunks = [
        chunk
        for array in arrays
        for chunk in (array.chunks if isinstance(array, pa.ChunkedArray) else [array])
    ]
    types = {chunk.type for chunk in chunks if chunk.type != pa.null()}
    if len(types) == 1:
        (kind,) = types
        chunks = [chunk if chunk.type == kind else pa.nulls(len(chunk), kind) for chunk in chunks]
    return pa.chunked_array(chunks)


def _equal(a: Any, b: Any) -> bool:
    try:
        return a is b or bool(a == b)
    except (TypeError, ValueError):  # arrays have no single truth value: not one constant
        return False
