"""A log of parquet parts on local disk or object storage: the prediction log, the labels.

A service appends what it scores as parts (``<root>/<YYYY-MM-DD>/<time>-<pid>-<n>.parquet``),
labels arrive the same way, in parts, as they are known; the monitoring reads every part back as
one table. An empty or missing folder is an empty log. Parts are written whole (a temporary name,
then a rename; an object store's put is atomic), so a reader never sees half a part, and names
starting with ``.`` or ``_`` (temporary files) are never read.

In a Kedro catalog::

    prediction_log:
      type: lab2prod.monitoring.ParquetLogDataset
      path: data/07_model_output/prediction_log      # or s3://bucket/prediction_log
      credentials: s3                                # fsspec arguments, as kedro-datasets take

``load()`` gives a :class:`ParquetLog`, which reads batches lazily (only the columns and
rows a check needs: 10 million rows are never all in memory); ``save(frame)`` adds one part.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kedro.io import AbstractDataset

from lab2prod.errors import MonitoringError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds

BATCH_ROWS = 1_000_000
"""Rows per batch when a log is read in batches."""

_COUNTER = itertools.count()


def _filesystem(path: str, credentials: Mapping[str, Any] | None, fs_args: Mapping[str, Any]):
    import fsspec
    from fsspec.core import split_protocol

    protocol, _ = split_protocol(path)
    fs = fsspec.filesystem(protocol or "file", **(credentials or {}), **fs_args)
    return fs, fs._strip_protocol(path)


class ParquetLog:
    """Every part of a log, read lazily.

    Args:
        dataset: The parts as a ``pyarrow.dataset.Dataset``.
        location: Where the log is, for messages.
    """

    def __init__(self, dataset: ds.Dataset, *, location: str) -> None:
        self.dataset = dataset
        self.location = location

    @classmethod
    def open(
        cls,
        path: str,
        *,
        credentials: Mapping[str, Any] | None = None,
        fs_args: Mapping[str, Any] | None = None,
    ) -> ParquetLog:
        """The log under ``path`` (a folder, local or ``s3://...``; a missing one is empty)."""
        import pyarrow.dataset as ds
        from pyarrow.fs import FSSpecHandler, PyFileSystem

        fs, root = _filesystem(path, credentials, fs_args or {})
        files = (
            sorted(
                name
                for name in fs.find(root)
                if name.endswith(".parquet") and not os.path.basename(name).startswith((".", "_"))
            )
            if fs.exists(root)
            else []
        )
        dataset = ds.dataset(files, format="parquet", filesystem=PyFileSystem(FSSpecHandler(fs)))
        return cls(dataset, location=path)

    @property
    def columns(self) -> list[str]:
        return list(self.dataset.schema.names)

    @property
    def empty(self) -> bool:
        """Whether the log holds no part."""
        return not self.dataset.files

    @property
    def parts(self) -> int:
        return len(self.dataset.files)

    def __len__(self) -> int:
        return self.dataset.count_rows()

    def require(self, columns: Sequence[str]) -> None:
        """Fail naming the columns the log lacks (or that it holds nothing at all).

        Raises:
            MonitoringError: If the log is empty or lacks a column.
        """
        if not self.dataset.files:
            raise MonitoringError(
                f"The log at {self.location} holds no part: is anything writing it? "
                "(docs/monitoring.md, 'The prediction log')"
            )
        missing = [name for name in columns if name not in self.columns]
        if missing:
            raise MonitoringError(
                f"The log at {self.location} lacks column(s) {missing}; it has {self.columns}",
                column=missing[0],
            )

    def batches(
        self,
        columns: Sequence[str],
        *,
        where: ds.Expression | None = None,
        batch_rows: int = BATCH_ROWS,
    ) -> Iterator[pd.DataFrame]:
        """The rows matching ``where``, ``columns`` only, as pandas frames of up to
        ``batch_rows`` rows."""
        self.require(columns)
        scanner = self.dataset.scanner(columns=list(columns), filter=where, batch_size=batch_rows)
        pending: list[pa.RecordBatch] = []
        held = 0
        for batch in scanner.to_batches():
            if batch.num_rows == 0:
                continue
            pending.append(batch)
            held += batch.num_rows
            if held >= batch_rows:
                yield _frame(pending)
                pending, held = [], 0
        if pending:
            yield _frame(pending)

    def to_arrow(self, columns: Sequence[str], *, where: ds.Expression | None = None) -> pa.Table:
        """The rows matching ``where``, ``columns`` only, as one Arrow table."""
        self.require(columns)
        return self.dataset.to_table(columns=list(columns), filter=where)


def _frame(batches: list[pa.RecordBatch]) -> pd.DataFrame:
    import pyarrow as pa

    return pa.Table.from_batches(batches).to_pandas()


def write_part(
    path: str,
    table: Any,
    *,
    credentials: Mapping[str, Any] | None = None,
    fs_args: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> str:
    """Add ``table`` (an Arrow table or a pandas frame) to the log under ``path`` as one part.

    Returns:
        The part's path.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    fs, root = _filesystem(path, credentials, fs_args or {})
    now = now or datetime.now(UTC)
    folder = f"{root.rstrip('/')}/{now:%Y-%m-%d}"
    name = f"{now:%Y%m%dT%H%M%S%f}-{os.getpid()}-{next(_COUNTER):06d}.parquet"
    final = f"{folder}/{name}"
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    if "file" in protocols:
        fs.makedirs(folder, exist_ok=True)
        temporary = f"{folder}/.{name}.{secrets.token_hex(4)}.tmp"
        try:
            with fs.open(temporary, "wb") as handle:
                pq.write_table(table, handle)
            os.replace(temporary, final)
        except BaseException:
            if fs.exists(temporary):
                fs.rm(temporary)
            raise
    else:  # an object store's put is atomic: readers see the whole part or none of it
        with fs.open(final, "wb") as handle:
            pq.write_table(table, handle)
    return final


class ParquetLogDataset(AbstractDataset[Any, ParquetLog]):
    """A log of parquet parts in the catalog: loads a :class:`ParquetLog`, saves a part.

    Args:
        path: The log's folder, local or on object storage (``s3://bucket/prefix``).
        credentials: fsspec arguments for the store (``key``, ``secret``, ``client_kwargs``).
        fs_args: More fsspec arguments.
        metadata: Kedro's free-form metadata.
    """

    def __init__(
        self,
        *,
        path: str,
        credentials: Mapping[str, Any] | None = None,
        fs_args: Mapping[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._path = path
        self._credentials = dict(credentials or {})
        self._fs_args = dict(fs_args or {})
        self.metadata = metadata

    def load(self) -> ParquetLog:
        return ParquetLog.open(self._path, credentials=self._credentials, fs_args=self._fs_args)

    def save(self, data: Any) -> None:
        write_part(self._path, data, credentials=self._credentials, fs_args=self._fs_args)

    def _exists(self) -> bool:
        fs, root = _filesystem(self._path, self._credentials, self._fs_args)
        return bool(fs.exists(root))

    def _describe(self) -> dict[str, Any]:
        return {"path": self._path}
