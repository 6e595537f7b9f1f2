"""A serving worker's prediction log: scored batches buffered, written as parts in the background.

The scoring thread hands each scored batch to :meth:`PredictionSink.add`, which only appends a
reference to a list (microseconds, whatever the batch's size): no conversion, no I/O, no lock
held while anything is written. A background thread joins what accumulated, column by column
(``columns.py``: numpy's and Arrow's concatenations, no pandas frame per batch), every second,
and writes it as one Arrow table, a part of the log (:func:`lab2prod.monitoring.log.write_part`:
a temporary name then a rename, or an object store's put), when ``max_rows`` rows are waiting
or ``max_seconds`` passed since the last part. :meth:`PredictionSink.close` (the service's
shutdown hook) writes what is left, so a clean shutdown loses nothing the service answered.

A log that cannot be written (a full disk, an object store down) never fails a request: the
rows stay buffered and the write is retried, up to ``max_buffered_rows``; past that the oldest
batches are dropped, and counted (:attr:`PredictionSink.dropped`), rather than the worker
running out of memory.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lab2prod.errors import MonitoringError
from lab2prod.monitoring.columns import (
    Same,
    arrow_columns,
    arrow_concat,
    columns_of,
    concat,
    row_count,
)
from lab2prod.monitoring.log import _filesystem, write_part

logger = logging.getLogger(__name__)

COMPACT_SECONDS = 1.0
"""How often the writer joins what was queued since (between the parts it writes)."""


@dataclass(frozen=True, slots=True)
class _Batch:
    """Queued rows: as handed over (``sources``: the frames or mappings, then ``extra``), or,
    once joined, as ``columns``."""

    rows: int
    sources: tuple[Any, ...] = ()
    extra: Mapping[str, Any] | None = None
    columns: Mapping[str, Any] | None = None


class PredictionSink:
    """Buffers scored batches and writes them as parts of the log under ``path``.

    Args:
        path: The log's folder, local or on object storage (``s3://bucket/prefix``).
        columns: The input columns logged (default: all of each batch's inputs).
        max_rows: Write a part once this many rows are waiting.
        max_seconds: ... or once this many seconds passed since the last part.
        max_buffered_rows: The most rows held while the log cannot be written; beyond, the
            oldest batches are dropped and counted.
        credentials: fsspec arguments of the store.
        on_write: Called with ``(rows, seconds)`` after each part is written (metrics).
        on_drop: Called with the rows of each batch dropped.
    """

    def __init__(
        self,
        path: str,
        *,
        columns: Sequence[str] | None = None,
        max_rows: int = 50_000,
        max_seconds: float = 10.0,
        max_buffered_rows: int = 2_000_000,
        credentials: Mapping[str, Any] | None = None,
        on_write: Callable[[int, float], None] | None = None,
        on_drop: Callable[[int], None] | None = None,
    ) -> None:
        if max_rows < 1 or max_seconds <= 0 or max_buffered_rows < max_rows:
            raise ValueError(
                "A prediction sink needs max_rows >= 1, max_seconds > 0 and "
                f"max_buffered_rows >= max_rows; got {max_rows}, {max_seconds}, "
                f"{max_buffered_rows}"
            )
        self.path = path
        self.columns = list(columns) if columns is not None else None
        self.max_rows = max_rows
        self.max_seconds = max_seconds
        self.max_buffered_rows = max_buffered_rows
        self.credentials = dict(credentials or {})
        self.on_write = on_write
        self.on_drop = on_drop
        self.written = 0
        """Rows written so far."""
        self.dropped = 0
        """Rows dropped because the log could not be written for too long."""
        self._pending: list[_Batch] = []
        self._pending_rows = 0
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._write_lock = threading.Lock()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._last_drop_logged = -math.inf

    def start(self) -> PredictionSink:
        """Start the background writer (once).

        Raises:
            MonitoringError: If the log's store needs a package that is not installed (s3fs
                for ``s3://``).
        """
        if self._thread is None:
            try:
                _filesystem(self.path, self.credentials, {})
                # Imported now, not by the first write: its import would hold the worker's
                # GIL for a request's time, and its memory is the worker's from the start.
                import pyarrow.parquet  # noqa: F401
            except ImportError as exc:
                raise MonitoringError(
                    f"The prediction log at {self.path} cannot be written: {exc}. Install it, "
                    "or log to a local folder"
                ) from exc
            self._thread = threading.Thread(
                target=self._run, name="lab2prod-prediction-log", daemon=True
            )
            self._thread.start()
        return self

    def add(self, inputs: Any, outputs: Any = None, **extra: Any) -> None:
        """Queue one scored batch: ``inputs`` and ``outputs`` row for row (pandas frames, or
        mappings of column name to values: numpy or pandas arrays, lists), and ``extra``
        columns (a list or array of a value per row, else one value for all). Never blocks on
        I/O, converts nothing.

        The values are kept as they are, not copied: the caller must not change them after.
        """
        batch = _Batch(row_count(inputs), (inputs, outputs), extra)
        with self._lock:
            self._pending.append(batch)
            self._pending_rows += batch.rows
            if self._pending_rows > self.max_buffered_rows:
                self._drop_oldest()
            if self._pending_rows >= self.max_rows:
                self._wake.notify()
            closed = self._closed
        if closed:  # scored after the shutdown began: written at once, not left behind
            self.flush()

    def _drop_oldest(self) -> None:
        """Drop the oldest rows queued until no more than ``max_buffered_rows`` are."""
        excess = self._pending_rows - self.max_buffered_rows
        while excess > 0 and self._pending:
            oldest = self._pending[0]
            dropped = min(oldest.rows, excess)
            try:
                if dropped < oldest.rows:  # the rows past the excess are kept
                    self._pending[0] = _tail(oldest, dropped, self.columns)
                else:
                    self._pending.pop(0)
            except (TypeError, ValueError, MonitoringError):
                self._pending.pop(0)  # a batch that cannot be cut: all of it goes
                dropped = oldest.rows
            self._pending_rows -= dropped
            self.dropped += dropped
            excess -= dropped
            if self.on_drop is not None:
                self.on_drop(dropped)
        now = time.monotonic()
        if now - self._last_drop_logged >= 60:  # one line a minute, not one per batch
            self._last_drop_logged = now
            logger.error(
                "The prediction log at %s could not be written for too long: %d rows dropped "
                "so far",
                self.path,
                self.dropped,
            )

    def _run(self) -> None:
        last = time.monotonic()
        while True:
            with self._lock:
                deadline = min(last + self.max_seconds, time.monotonic() + COMPACT_SECONDS)
                while (
                    not self._closed
                    and self._pending_rows < self.max_rows
                    and (remaining := deadline - time.monotonic()) > 0
                ):
                    self._wake.wait(remaining)
                if self._closed:
                    return
                due = self._pending_rows >= self.max_rows
            write = due or time.monotonic() - last >= self.max_seconds
            self._drain(write=write)
            if write:
                last = time.monotonic()

    def flush(self) -> int:
        """Write every queued batch now, as one part.

        Returns:
            The rows written (0 when nothing was queued, or when the write failed: the rows
            then stay queued for the next attempt).
        """
        return self._drain(write=True)

    def _drain(self, *, write: bool) -> int:
        """Join every queued batch into one, then write it as a part (``write``), or queue it
        again to go with what comes next: many small batches held for seconds cost far more
        memory, and far more to join at once, than their rows do.

        Returns:
            The rows written.
        """
        with self._write_lock:
            with self._lock:
                batches, self._pending = self._pending, []
                self._pending_rows -= sum(b.rows for b in batches)
            if not batches:
                return 0
            started = time.perf_counter()
            try:
                joined = _joined(batches, self.columns)
            except (TypeError, ValueError, MonitoringError) as exc:
                # Columns that cannot be joined (a type that changed between batches): kept
                # as they were; each write tries them again and says what is wrong.
                self._requeue(batches)
                if write:
                    logger.warning("Could not write the prediction log at %s: %s", self.path, exc)
                return 0
            if not write:
                self._requeue([joined])
                return 0
            try:
                import pyarrow as pa

                write_part(self.path, pa.table(joined.columns), credentials=self.credentials)
            except Exception as exc:
                # The writer's last line: whatever the store raises (its clients have their own
                # error types), the rows are kept for the next attempt and the thread lives on.
                self._requeue([joined])
                logger.warning("Could not write the prediction log at %s: %s", self.path, exc)
                return 0
            self.written += joined.rows
            if self.on_write is not None:
                self.on_write(joined.rows, time.perf_counter() - started)
            return joined.rows

    def _requeue(self, batches: list[_Batch]) -> None:
        with self._lock:
            self._pending[:0] = batches
            self._pending_rows += sum(b.rows for b in batches)
            if self._pending_rows > self.max_buffered_rows:
                self._drop_oldest()

    def close(self, timeout: float = 30.0) -> None:
        """Stop the writer and write what is left (the service's shutdown hook). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout)
        self.flush()


def _joined(batches: Sequence[_Batch], wanted: Sequence[str] | None) -> _Batch:
    """One batch of the rows of ``batches``, as Arrow columns: the inputs (``wanted`` of them,
    or all), the outputs (which win over an input of the same name), the extra columns.

    Batches as handed over are joined by their own kinds (numpy, pandas) and turned into
    Arrow once; batches joined before are appended to without a copy.
    """
    pieces: list[_Batch] = []
    handed: list[_Batch] = []
    for batch in [*batches, None]:
        if batch is not None and batch.columns is None:
            handed.append(batch)
            continue
        if handed:
            parts = [_columns(b, wanted) for b in handed]
            names = dict.fromkeys(name for part in parts for name in part)
            lengths = [b.rows for b in handed]
            columns = {name: concat([part.get(name) for part in parts], lengths) for name in names}
            rows = sum(lengths)
            pieces.append(_Batch(rows, columns=arrow_columns(columns, rows)))
            handed = []
        if batch is not None:
            pieces.append(batch)
    if len(pieces) == 1:
        return pieces[0]
    lengths = [piece.rows for piece in pieces]
    return _Batch(sum(lengths), columns=arrow_concat([p.columns for p in pieces], lengths))


def _tail(batch: _Batch, start: int, wanted: Sequence[str] | None) -> _Batch:
    """The rows of ``batch`` from ``start`` on (joined, as Arrow columns)."""
    return _Batch(
        batch.rows - start,
        columns={name: values[start:] for name, values in _joined([batch], wanted).columns.items()},
    )


def _columns(batch: _Batch, wanted: Sequence[str] | None) -> Mapping[str, Any]:
    if batch.columns is not None:
        return batch.columns
    inputs, outputs = batch.sources
    columns = columns_of(inputs)
    if wanted is not None:
        missing = [name for name in wanted if name not in columns]
        if missing:
            raise MonitoringError(
                f"A scored batch lacks the logged column(s) {missing}; it has {sorted(columns)}",
                column=missing[0],
            )
        columns = {name: columns[name] for name in wanted}
    columns.update(columns_of(outputs))
    for name, value in (batch.extra or {}).items():
        columns[name] = value if _per_row(value) else Same(value)
    return columns


def _per_row(value: Any) -> bool:
    import numpy as np

    return isinstance(value, list | np.ndarray | Same) or hasattr(value, "_concat_same_type")
