"""A serving worker's prediction log: scored batches buffered, written as parts in the background.

The scoring thread hands each scored batch to :meth:`PredictionSink.add`, which only appends a
reference to a list (microseconds, whatever the batch's size): no conversion, no I/O, no lock
held while anything is written. A background thread turns what accumulated into one Arrow table
and writes it as a part of the log (:func:`lab2prod.monitoring.log.write_part`: a temporary name
then a rename, or an object store's put) when ``max_rows`` rows are waiting or ``max_seconds``
passed since the last part. :meth:`PredictionSink.close` (the service's shutdown hook) writes
what is left, so a clean shutdown loses nothing the service answered.

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
from typing import TYPE_CHECKING, Any

from lab2prod.errors import MonitoringError
from lab2prod.monitoring.log import _filesystem, write_part

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

logger = logging.getLogger(__name__)

COMPACT_SECONDS = 1.0
"""How often the writer merges what was queued since (between the parts it writes)."""


@dataclass(frozen=True, slots=True)
class _Batch:
    inputs: pd.DataFrame
    outputs: pd.DataFrame
    extra: Mapping[str, Any]
    rows: int


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

    def add(self, inputs: pd.DataFrame, outputs: pd.DataFrame, **extra: Any) -> None:
        """Queue one scored batch: ``inputs`` and ``outputs`` row for row, and ``extra``
        columns (a value per row, or one value for all). Never blocks on I/O.

        The frames are kept as they are, not copied: the caller must not change them after.
        """
        batch = _Batch(inputs, outputs, extra, len(inputs))
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
        while self._pending_rows > self.max_buffered_rows and len(self._pending) > 1:
            oldest = self._pending.pop(0)
            self._pending_rows -= oldest.rows
            self.dropped += oldest.rows
            if self.on_drop is not None:
                self.on_drop(oldest.rows)
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
            if due or time.monotonic() - last >= self.max_seconds:
                self.flush()
                last = time.monotonic()
            else:
                self._compact()

    def _compact(self) -> None:
        """Merge the queued batches into one: many small frames held for seconds cost far more
        memory than their rows do (a 1-row frame is kilobytes of pandas structure)."""
        with self._write_lock:
            with self._lock:
                batches, self._pending = self._pending, []
            if len(batches) > 1:
                try:
                    batches = [self._merge(batches)]
                except Exception as exc:  # kept as they were; the write will say what is wrong
                    logger.debug("Prediction log batches not merged: %s", exc)
            with self._lock:
                self._pending[:0] = batches

    @staticmethod
    def _merge(batches: list[_Batch]) -> _Batch:
        import pandas as pd

        extra: dict[str, list[Any]] = {}
        for name in dict.fromkeys(key for b in batches for key in b.extra):
            values: list[Any] = []
            for b in batches:
                value = b.extra.get(name)
                values.extend(value if isinstance(value, list) else [value] * b.rows)
            extra[name] = values
        return _Batch(
            pd.concat([b.inputs for b in batches], ignore_index=True),
            pd.concat([b.outputs for b in batches], ignore_index=True),
            extra,
            sum(b.rows for b in batches),
        )

    def flush(self) -> int:
        """Write every queued batch now, as one part.

        Returns:
            The rows written (0 when nothing was queued, or when the write failed: the rows
            then stay queued for the next attempt).
        """
        with self._write_lock:
            with self._lock:
                batches, self._pending, self._pending_rows = self._pending, [], 0
            if not batches:
                return 0
            started = time.perf_counter()
            try:
                table = self._table(batches)
                write_part(self.path, table, credentials=self.credentials)
            except Exception as exc:
                # The writer's last line: whatever the store raises (its clients have their own
                # error types), the rows are kept for the next attempt and the thread lives on.
                with self._lock:
                    self._pending[:0] = batches
                    self._pending_rows += sum(b.rows for b in batches)
                    if self._pending_rows > self.max_buffered_rows:
                        self._drop_oldest()
                logger.warning("Could not write the prediction log at %s: %s", self.path, exc)
                return 0
            rows = table.num_rows
            self.written += rows
            if self.on_write is not None:
                self.on_write(rows, time.perf_counter() - started)
            return rows

    def _table(self, batches: list[_Batch]) -> pa.Table:
        """One table of ``batches``: a concatenation per side, then one conversion (a
        conversion per batch would cost more than the batch's scoring when batches are small)."""
        import pandas as pd
        import pyarrow as pa

        def joined(frames: list[pd.DataFrame]) -> pd.DataFrame:
            return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

        inputs = joined(
            [b.inputs if self.columns is None else b.inputs[self.columns] for b in batches]
        )
        outputs = joined([b.outputs for b in batches])
        data: dict[str, Any] = {name: inputs[name].array for name in inputs.columns}
        data.update({name: outputs[name].array for name in outputs.columns})
        for name in dict.fromkeys(key for b in batches for key in b.extra):
            values: list[Any] = []
            for b in batches:
                value = b.extra.get(name)
                values.extend(value if isinstance(value, list) else [value] * b.rows)
            data[name] = values
        return pa.Table.from_pandas(pd.DataFrame(data), preserve_index=False)

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
