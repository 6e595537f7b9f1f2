"""BatchedParquetDataset: a table saved batch by batch is the file a single save writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError
from kedro_datasets.pandas import ParquetDataset

from lab2prod.batched import ROW_GROUP_ROWS, BatchedParquetDataset

ROWS = 2 * ROW_GROUP_ROWS + 12_345  # three row groups, the last one short


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    """Keys of the types model_input has (strings, times, int8), then float features."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "transaction_id": pd.Series(np.arange(ROWS)).map("tx{:07d}".format),
            "timestamp": pd.date_range("2025-01-01", periods=ROWS, freq="s", unit="us"),
            "is_fraud": rng.integers(0, 2, ROWS).astype(np.int8),
        }
    )
    for column in range(4):
        frame[f"feature_{column}"] = rng.normal(size=ROWS)
    return frame


def _batches(frame: pd.DataFrame, rows: int):
    return (frame.iloc[start : start + rows] for start in range(0, len(frame), rows))


def test_batches_write_the_same_bytes_as_the_table_at_once(table, tmp_path):
    """Batches of whole row groups: the file is the bytes kedro-datasets' ParquetDataset
    writes for the whole table, and it loads back as that table."""
    ParquetDataset(filepath=str(tmp_path / "whole.parquet")).save(table)
    batched = BatchedParquetDataset(filepath=str(tmp_path / "batched.parquet"))
    batched.save(_batches(table, ROW_GROUP_ROWS))
    assert (tmp_path / "batched.parquet").read_bytes() == (tmp_path / "whole.parquet").read_bytes()
    pd.testing.assert_frame_equal(batched.load(), table)


def test_batches_of_any_size_give_the_same_table(table, tmp_path):
    """Batches that do not fall on row groups: other row groups, the same table and index."""
    dataset = BatchedParquetDataset(filepath=str(tmp_path / "t.parquet"))
    dataset.save(_batches(table.iloc[:10_000], 3_000))
    pd.testing.assert_frame_equal(dataset.load(), table.iloc[:10_000])


def test_a_dataframe_is_saved_as_by_parquet_dataset(table, tmp_path):
    """Given a DataFrame, the dataset is kedro-datasets' ParquetDataset."""
    small = table.iloc[:1_000]
    ParquetDataset(filepath=str(tmp_path / "a.parquet")).save(small)
    BatchedParquetDataset(filepath=str(tmp_path / "b.parquet")).save(small)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def _failing(frame: pd.DataFrame):
    yield frame.iloc[:100]
    raise RuntimeError("the node failed mid-table")


def _gap(frame: pd.DataFrame):
    yield frame.iloc[:100]
    yield frame.iloc[200:300]


def _renamed(frame: pd.DataFrame):
    yield frame.iloc[:100]
    yield frame.iloc[100:200].rename(columns={"feature_0": "other"})


def _not_frames(frame: pd.DataFrame):
    yield frame.iloc[:100]
    yield [1, 2, 3]


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (_failing, DatasetError, "the node failed mid-table"),
        (_gap, DatasetError, "does not follow the batches before it"),
        (_renamed, DatasetError, "Batch 1 has the columns"),
        (_not_frames, DatasetError, "Batch 1 is a list, not a DataFrame"),
        (lambda frame: iter(()), DatasetError, "No batch to write"),
    ],
)
def test_a_failed_batched_save_leaves_the_previous_file(table, tmp_path, make, error, message):
    """Whatever stops the batches, the file saved before is intact and nothing else is left."""
    path = tmp_path / "t.parquet"
    dataset = BatchedParquetDataset(filepath=str(path))
    dataset.save(table.iloc[:50])
    before = path.read_bytes()
    with pytest.raises(error, match=message):
        dataset.save(make(table))
    assert path.read_bytes() == before
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["t.parquet"]


def test_save_args_a_batched_write_cannot_honour_are_named(table, tmp_path):
    """partition_cols and the like: a clear error, before anything is written."""
    dataset = BatchedParquetDataset(
        filepath=str(tmp_path / "t.parquet"), save_args={"row_group_size": 10}
    )
    with pytest.raises(DatasetError, match=r"not \['row_group_size'\]"):
        dataset.save(_batches(table.iloc[:10], 5))
    assert not (tmp_path / "t.parquet").exists()
