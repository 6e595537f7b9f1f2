"""A pandas parquet dataset that also saves a table given batch by batch, never whole in memory.

``BatchedParquetDataset`` is kedro-datasets' ``pandas.ParquetDataset``, with the same arguments
and the same ``load``; its ``save`` takes a DataFrame as that one does, or an iterator of
DataFrames: the rows of one table, in order, which a node makes a slice at a time when the
whole would not fit in memory (a node that is a plain function returning a generator: Kedro
hands the generator to ``save`` as it is; a generator *function* would have Kedro save each
chunk on its own). The batches are written as they come with pyarrow's ``ParquetWriter``, into
a file beside the target that replaces it once the last batch is written: a failure (a broken
contract, a crash) leaves the previous file as it was.

The file is the same bytes as saving the whole table at once when each batch but the last holds
a multiple of the row group size (1,048,576 rows, pyarrow's default) and the batches are
consecutive slices of a table with a ``RangeIndex``: each row group is then the one a single
write makes, and the file's pandas metadata is the whole table's (the index's range is set to
the whole of it when the last batch is written).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from typing import Any

import pandas as pd
from kedro.io.core import DatasetError, get_filepath_str
from kedro_datasets.pandas import ParquetDataset

ROW_GROUP_ROWS = 1024 * 1024
"""pyarrow's default row group size, for a table written at once (``pq.write_table``)."""

_WRITER_ARGS = {"compression", "index"}
"""``save_args`` a batched save honours as ``DataFrame.to_parquet`` does."""


class BatchedParquetDataset(ParquetDataset):
    """``pandas.ParquetDataset`` whose ``save`` also takes the table as an iterator of batches.

    Example (``catalog.yml``)::

        model_input:
          type: lab2prod.batched.BatchedParquetDataset
          filepath: data/05_model_input/model_input.parquet
    """

    def save(self, data: pd.DataFrame | Iterable[pd.DataFrame]) -> None:
        """Write ``data``: a DataFrame at once, or batches of one table as they come.

        Raises:
            DatasetError: A batch is not a DataFrame, its columns or types differ from the
                first batch's, the batches' index ranges do not follow each other, or
                ``save_args`` hold an option a batched write does not take.
        """
        if isinstance(data, pd.DataFrame):
            super().save(data)
            return
        if not isinstance(data, Iterable) or isinstance(data, str | bytes | dict):
            raise DatasetError(
                f"{type(self).__name__} saves a pandas DataFrame or an iterator of them, "
                f"not {type(data).__name__}."
            )
        unsupported = sorted(set(self._save_args) - _WRITER_ARGS)
        if unsupported:
            raise DatasetError(
                f"Saving batches, {type(self).__name__} takes only the save_args "
                f"{sorted(_WRITER_ARGS)}, not {unsupported}: drop them, or return one DataFrame."
            )
        save_path = get_filepath_str(self._get_save_path(), self._protocol)
        partial = f"{save_path}.partial"
        try:
            with self._fs.open(partial, mode="wb") as file:
                _write_batches(iter(data), file, self._save_args)
            self._fs.mv(partial, save_path)
        except BaseException:
            if self._fs.exists(partial):
                self._fs.rm(partial)
            raise
        self._invalidate_cache()


def _write_batches(batches: Iterator[pd.DataFrame], file: Any, save_args: dict[str, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer: pq.ParquetWriter | None = None
    first: pa.Schema | None = None
    index: pd.RangeIndex | None = None
    try:
        for number, batch in enumerate(batches):
            if not isinstance(batch, pd.DataFrame):
                raise DatasetError(f"Batch {number} is a {type(batch).__name__}, not a DataFrame.")
            table = pa.Table.from_pandas(batch, preserve_index=save_args.get("index"))
            if writer is None:
                first = table.schema
                writer = pq.ParquetWriter(
                    file, first, compression=save_args.get("compression", "snappy")
                )
            elif not table.schema.equals(first, check_metadata=False):
                raise DatasetError(
                    f"Batch {number} has the columns {table.schema}, where the first batch had "
                    f"{first}: every batch is a slice of the same table."
                )
            index = _following(index, batch.index, number)
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        if writer is None:
            raise DatasetError("No batch to write: the iterator was empty.")
        if isinstance(index, pd.RangeIndex):
            writer.add_key_value_metadata(_whole_table_metadata(first, index))
    finally:
        if writer is not None:
            writer.close()


def _following(
    index: pd.RangeIndex | None, batch_index: pd.Index, number: int
) -> pd.RangeIndex | None:
    """The range the batches so far cover; ``None`` once an index is not a range (it is then
    written as a column, the same in each batch, as a single write would)."""
    if not isinstance(batch_index, pd.RangeIndex):
        return None
    if number == 0:
        return batch_index
    if index is None:
        return None
    if batch_index.step != index.step or batch_index.start != index.stop:
        raise DatasetError(
            f"Batch {number} has the index {batch_index}, which does not follow the batches "
            f"before it ({index}): the batches must be consecutive slices of one table."
        )
    return pd.RangeIndex(index.start, batch_index.stop, index.step, name=index.name)


def _whole_table_metadata(schema: Any, index: pd.RangeIndex) -> dict[str, str]:
    """The file metadata a single write of the whole table gives: pandas' description of the
    table (its ``RangeIndex`` the whole range), in the ``pandas`` key and in the serialized
    Arrow schema (``ARROW:schema``, base64 of the IPC schema, as Arrow's writer stores it)."""
    pandas = json.loads(schema.metadata[b"pandas"])
    for described in pandas["index_columns"]:
        if isinstance(described, dict) and described.get("kind") == "range":
            described.update(start=index.start, stop=index.stop, step=index.step)
    metadata = {**schema.metadata, b"pandas": json.dumps(pandas).encode()}
    whole = schema.with_metadata(metadata)
    return {
        "pandas": metadata[b"pandas"].decode(),
        "ARROW:schema": base64.b64encode(whole.serialize().to_pybytes()).decode(),
    }
