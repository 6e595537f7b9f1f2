"""Request frames merge and split through BentoML's own batching machinery."""

from __future__ import annotations

import pandas as pd
from bentoml._internal.runner.container import AutoContainer

from lab2prod.serving import batching
from lab2prod.serving.batching import FrameBatch


def test_bentoml_counts_merges_and_splits_frame_batches():
    """The dispatcher sees row counts, one concatenated frame, and each request's rows back."""
    batching.register()
    first = FrameBatch(pd.DataFrame({"id": ["a", "b"], "x": [1.0, 2.0]}))
    second = FrameBatch(pd.DataFrame({"id": ["c"], "x": [3.0]}))

    assert AutoContainer.get_batch_size(first, 0) == 2
    merged, indices = AutoContainer.batches_to_batch([first, second], 0)

    assert isinstance(merged, FrameBatch)
    assert merged.frame["id"].tolist() == ["a", "b", "c"]
    assert merged.frame.index.tolist() == [0, 1, 2]
    assert indices == [0, 2, 3]
    back = AutoContainer.batch_to_batches(merged, indices, 0)
    pd.testing.assert_frame_equal(back[1].frame, second.frame)
    # What a route returns per record (a list) is split by the same indices.
    assert AutoContainer.batch_to_batches(["r1", "r2", "r3"], indices, 0) == [["r1", "r2"], ["r3"]]


def test_a_single_request_is_not_copied():
    """One request alone in a batch goes through as it is."""
    batching.register()
    alone = FrameBatch(pd.DataFrame({"x": [1.0]}))
    merged, indices = AutoContainer.batches_to_batch([alone], 0)
    assert merged is alone and indices == [0, 1]
