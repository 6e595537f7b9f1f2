"""Request columns merge and split through BentoML's own batching machinery."""

from __future__ import annotations

import numpy as np
import pandas as pd
from bentoml._internal.runner.container import AutoContainer

from lab2prod.serving import batching
from lab2prod.serving.batching import ColumnBatch


def test_bentoml_counts_merges_and_splits_column_batches():
    """The dispatcher sees record counts, one concatenated batch, and each request's rows back."""
    batching.register()
    first = ColumnBatch({"id": ["a", "b"], "x": np.array([1.0, 2.0])}, 2)
    second = ColumnBatch({"id": ["c"], "x": np.array([3.0])}, 1)

    assert AutoContainer.get_batch_size(first, 0) == 2
    merged, indices = AutoContainer.batches_to_batch([first, second], 0)

    assert isinstance(merged, ColumnBatch) and len(merged) == 3
    assert merged.columns["id"] == ["a", "b", "c"]
    np.testing.assert_array_equal(merged.columns["x"], [1.0, 2.0, 3.0])
    assert indices == [0, 2, 3]
    back = AutoContainer.batch_to_batches(merged, indices, 0)
    assert back[1].columns["id"] == ["c"] and len(back[1]) == 1
    # What a route returns per record (a list) is split by the same indices.
    assert AutoContainer.batch_to_batches(["r1", "r2", "r3"], indices, 0) == [["r1", "r2"], ["r3"]]


def test_a_single_request_is_not_copied():
    """One request alone in a batch goes through as it is."""
    batching.register()
    alone = ColumnBatch({"x": np.array([1.0])}, 1)
    merged, indices = AutoContainer.batches_to_batch([alone], 0)
    assert merged is alone and indices == [0, 1]


def test_a_nullable_column_merges_with_numpy_ones():
    """A column with a missing value (a pandas array) and plain numpy parts keep their values."""
    with_null = ColumnBatch({"n": pd.array([1, None], dtype="Int64")}, 2)
    plain = ColumnBatch({"n": np.array([3], dtype=np.int64)}, 1)

    merged = batching.concat([with_null, plain])

    assert merged.columns["n"].tolist() == [1, pd.NA, 3]
