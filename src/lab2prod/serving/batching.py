"""Request records through BentoML's adaptive batching, as columns.

Each request reaches the scoring route as a :class:`ColumnBatch`: its records as the batch's
columns (numpy arrays, or lists converted once per merged batch). BentoML's dispatcher merges
concurrent requests by concatenating the columns, and the scorer builds one frame per merged
batch: a frame per request would cost more than scoring a single-record request does. BentoML
picks how to merge by the input's type (its data containers), so the type comes with a
container of its own, registered with BentoML's registry (``internals.register_data_container``:
in-process only, a column batch is never sent to another process).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lab2prod.serving import internals

__all__ = ["ColumnBatch", "register"]


@dataclass(frozen=True, slots=True)
class ColumnBatch:
    """Records of one request, or of a merged batch of them, as columns.

    Attributes:
        columns: Column name to values (a numpy or pandas array, or a list), all ``length``
            long, in the contract's order.
        length: The number of records.
    """

    columns: Mapping[str, Any]
    length: int

    def __len__(self) -> int:
        return self.length

    def rows(self, start: int, end: int) -> ColumnBatch:
        """Records ``start`` to ``end`` (excluded)."""
        return ColumnBatch({k: v[start:end] for k, v in self.columns.items()}, end - start)


def concat(batches: Sequence[ColumnBatch]) -> ColumnBatch:
    """One batch of the records of ``batches``, in order."""
    if len(batches) == 1:
        return batches[0]
    names = batches[0].columns
    return ColumnBatch(
        {name: _concat([batch.columns[name] for batch in batches]) for name in names},
        sum(len(batch) for batch in batches),
    )


def _concat(parts: list[Any]) -> Any:
    if all(isinstance(part, list) for part in parts):
        return list(itertools.chain.from_iterable(parts))
    if all(isinstance(part, np.ndarray) for part in parts):
        return np.concatenate(parts)
    # Mixed kinds (a nullable column as a pandas array beside numpy ones): pandas finds the
    # common dtype.
    return pd.concat([pd.Series(part) for part in parts], ignore_index=True).array


def _merge(batches: Sequence[ColumnBatch]) -> tuple[ColumnBatch, list[int]]:
    return concat(batches), [0, *itertools.accumulate(len(batch) for batch in batches)]


def _split(batch: ColumnBatch, indices: Sequence[int]) -> list[ColumnBatch]:
    return [batch.rows(start, end) for start, end in itertools.pairwise(indices)]


def register() -> None:
    """Tell BentoML's dispatcher how to merge :class:`ColumnBatch` inputs (idempotent)."""
    internals.register_data_container(ColumnBatch, merge=_merge, split=_split, size=len)
