"""Live drift of a running service: each worker's counts on the reference's bins, merged.

Each serving worker counts what it scores on the bins of the model's reference profile, in time
slots covering the last ``window_seconds`` (:class:`LiveCounts`). Counting happens on a
background thread, every second, on everything scored since, joined column by column
(``columns.py``: one numpy concatenation per column, no frame): the scoring thread only hands
over a reference to the batch. That thread also publishes the worker's window as a small
file in a folder the server's workers share (BentoML's ``PROMETHEUS_MULTIPROC_DIR``).

Whichever worker answers ``/metrics`` merges the fresh files of every worker (a file not
refreshed for three publishing intervals is a worker gone, left out) and runs the monitoring's
own drift table on the sum (:func:`lab2prod.monitoring.drift.drift_table`: the same
statistics, calibrated thresholds and false-discovery rate as ``kedro monitor check``), so the
gauges stay right with any number of workers: counts add up, statistics do not.
:func:`exposition` renders them in Prometheus' text format:

- ``<prefix>_drift_psi{column, role}``: PSI of the window against the reference;
- ``<prefix>_drift_threshold{column, role}``: its calibrated threshold for the window's rows;
- ``<prefix>_drift_drifted{column, role}``: 1 when the column is drifted (over its threshold,
  after the false-discovery correction), else 0;
- ``<prefix>_drift_window_rows``, ``<prefix>_drift_workers``: rows and workers counted;
- ``<prefix>_drift_share{column, bin, le, side}``: the score's share per bin, ``side`` the
  ``window`` or the ``reference``: the score's distribution against the reference.

With several replicas (pods), each serves its own window: alert on any of them, or merge
replicas with the prediction log (``kedro monitor check``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lab2prod.monitoring.columns import columns_of, concat, row_count
from lab2prod.monitoring.window import WindowCounts, count_frame

if TYPE_CHECKING:
    from lab2prod.monitoring.drift import DriftParams
    from lab2prod.monitoring.reference import ReferenceProfile

logger = logging.getLogger(__name__)

FILE_PREFIX = "lab2prod-live-drift-"
STALE_INTERVALS = 3
"""A worker's file older than this many publishing intervals is left out (the worker is gone)."""


class LiveCounts:
    """One worker's counts over the last ``window_seconds``, published to ``directory``.

    Args:
        profile: The model's reference profile (its inputs, score and decision are counted).
        directory: The folder the server's workers share.
        window_seconds: How far back the live window reaches.
        slots: Time slots of the window (it moves a slot at a time).
        publish_seconds: How often the worker counts what it scored and publishes its window.
    """

    def __init__(
        self,
        profile: ReferenceProfile,
        *,
        directory: str | Path,
        window_seconds: float = 3600.0,
        slots: int = 12,
        publish_seconds: float = 5.0,
    ) -> None:
        if window_seconds <= 0 or slots < 1 or publish_seconds <= 0:
            raise ValueError(
                "Live drift needs window_seconds > 0, slots >= 1 and publish_seconds > 0; got "
                f"{window_seconds}, {slots}, {publish_seconds}"
            )
        self.profile = profile
        self.directory = Path(directory)
        self.window_seconds = float(window_seconds)
        self.slot_seconds = self.window_seconds / slots
        self.publish_seconds = float(publish_seconds)
        self.path = self.directory / f"{FILE_PREFIX}{os.getpid()}.json"
        self._pending: list[tuple[Any, Any]] = []
        self._lock = threading.Lock()
        self._slots: deque[tuple[float, WindowCounts]] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, inputs: Any, outputs: Any = None) -> None:
        """Queue a scored batch, counted later: ``inputs`` and ``outputs`` row for row (pandas
        frames, or mappings of column name to values), together holding every profiled column
        (an output's column wins over an input's of its name). They are kept as they are: the
        caller must not change them after."""
        with self._lock:
            self._pending.append((inputs, outputs))

    def start(self) -> LiveCounts:
        """Start counting and publishing in the background (once)."""
        if self._thread is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.publish()
            self._thread = threading.Thread(
                target=self._run, name="lab2prod-live-drift", daemon=True
            )
            self._thread.start()
        return self

    def _run(self) -> None:
        # Counts every second (the queued batches are small but many: joining them costs per
        # batch, not per row), publishes every publish_seconds.
        last = time.monotonic()
        while not self._stop.wait(min(1.0, self.publish_seconds)):
            try:
                if time.monotonic() - last >= self.publish_seconds:
                    self.publish()
                    last = time.monotonic()
                else:
                    self.window()
            except (OSError, ValueError) as exc:  # a bad batch or a full disk: next time
                logger.warning("Live drift counts not published: %s", exc)

    def window(self, now: float | None = None) -> WindowCounts:
        """Count what was queued, and return the counts of the window ending ``now``."""

        now = time.time() if now is None else now
        with self._lock:
            pending, self._pending = self._pending, []
        if pending:
            counts = count_frame(self.profile, _joined(pending, self.profile.names))
            slot = math.floor(now / self.slot_seconds) * self.slot_seconds
            if self._slots and self._slots[-1][0] == slot:
                self._slots[-1] = (slot, self._slots[-1][1] + counts)
            else:
                self._slots.append((slot, counts))
        while self._slots and self._slots[0][0] + self.slot_seconds <= now - self.window_seconds:
            self._slots.popleft()
        total = WindowCounts.empty(self.profile)
        for _, counts in self._slots:
            total = total + counts
        return total

    def publish(self, now: float | None = None) -> WindowCounts:
        """Count what was queued and write this worker's window to its file (atomically)."""
        window = self.window(now)
        data = {"pid": os.getpid(), "window": window.to_dict()}
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        temporary.write_text(json.dumps(data))
        os.replace(temporary, self.path)
        return window

    def close(self) -> None:
        """Stop, and remove this worker's file (its rows leave the merged window)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.path.unlink(missing_ok=True)


def _joined(batches: list[tuple[Any, Any]], names: list[str]) -> dict[str, Any]:
    """The profiled columns of scored batches, each joined into one (a column missing from a
    batch is left out: ``count_frame`` then names it)."""
    parts = []
    for inputs, outputs in batches:
        columns = columns_of(inputs, names)
        columns.update(columns_of(outputs, names))
        parts.append(columns)
    lengths = [row_count(inputs) for inputs, _ in batches]
    present = [name for name in names if all(name in part for part in parts)]
    return {name: concat([part[name] for part in parts], lengths) for name in present}


def merged_window(
    profile: ReferenceProfile, directory: str | Path, *, max_age: float, now: float | None = None
) -> tuple[WindowCounts, int]:
    """The sum of the fresh windows of every worker in ``directory``, and how many there were."""
    now = time.time() if now is None else now
    total, workers = WindowCounts.empty(profile), 0
    for path in Path(directory).glob(f"{FILE_PREFIX}*.json"):
        try:
            if now - path.stat().st_mtime > max_age:
                continue
            window = WindowCounts.from_dict(json.loads(path.read_text())["window"])
            total = total + window
        except (OSError, ValueError, KeyError) as exc:  # a worker gone between glob and read
            logger.debug("Live drift file %s skipped: %s", path, exc)
            continue
        workers += 1
    return total, workers


@dataclass(frozen=True)
class _Gauge:
    name: str
    help: str


def _labels(**labels: str) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')

    return "{" + ",".join(f'{key}="{escape(str(value))}"' for key, value in labels.items()) + "}"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class LiveDrift:
    """The drift gauges of a server, computed from every worker's live counts on demand.

    Args:
        profile: The model's reference profile.
        directory: The folder the workers publish to.
        prefix: The metric name prefix (``fraud_detection``).
        params: How drift is decided (as ``kedro monitor check`` decides it).
        publish_seconds: The workers' publishing interval (a file older than
            ``STALE_INTERVALS`` of them is left out).
        cache_seconds: Reuse the last result for this long (scrapes from several Prometheus).
    """

    def __init__(
        self,
        profile: ReferenceProfile,
        *,
        directory: str | Path,
        prefix: str,
        params: DriftParams | None = None,
        publish_seconds: float = 5.0,
        cache_seconds: float = 1.0,
    ) -> None:
        from lab2prod.monitoring.drift import DriftParams

        self.profile = profile
        self.directory = Path(directory)
        self.prefix = prefix
        self.params = params or DriftParams()
        self.max_age = STALE_INTERVALS * publish_seconds
        self.cache_seconds = cache_seconds
        self._cache: tuple[float, str] | None = None
        self._lock = threading.Lock()

    def exposition(self, now: float | None = None) -> str:
        """The gauges in Prometheus' text exposition format (lines ending with a newline)."""
        now = time.time() if now is None else now
        with self._lock:
            if self._cache is not None and now - self._cache[0] < self.cache_seconds:
                return self._cache[1]
            text = self._render(now)
            self._cache = (now, text)
            return text

    def _render(self, now: float) -> str:
        from lab2prod.monitoring.drift import drift_table

        window, workers = merged_window(self.profile, self.directory, max_age=self.max_age, now=now)
        p = self.prefix
        lines: list[str] = []

        def gauge(name: str, help_: str, samples: list[tuple[dict[str, str], float]]) -> None:
            lines.append(f"# HELP {p}_{name} {help_}")
            lines.append(f"# TYPE {p}_{name} gauge")
            lines.extend(
                f"{p}_{name}{_labels(**lab) if lab else ''} {_number(v)}" for lab, v in samples
            )

        gauge(
            "drift_window_rows",
            "Predictions in the live drift window, all workers.",
            [({}, window.rows)],
        )
        gauge("drift_workers", "Workers whose live counts are in the window.", [({}, workers)])
        if window.rows:
            table = drift_table(self.profile, window, self.params)
            keys = [{"column": row.column, "role": row.role} for row in table.itertuples()]
            gauge(
                "drift_psi",
                "PSI of the live window against the model's reference profile.",
                list(zip(keys, table["psi"].tolist(), strict=True)),
            )
            deciding = self.params.statistic
            gauge(
                "drift_statistic",
                f"The deciding statistic ({deciding}) of the live window.",
                list(zip(keys, table["value"].tolist(), strict=True)),
            )
            gauge(
                "drift_threshold",
                f"Calibrated threshold of the deciding statistic ({deciding}) for the window's "
                "rows, after the false-discovery correction across columns.",
                list(zip(keys, table["threshold"].tolist(), strict=True)),
            )
            gauge(
                "drift_drifted",
                "1 when the column is drifted in the live window, else 0.",
                list(zip(keys, table["drifted"].astype(float).tolist(), strict=True)),
            )
        if self.profile.score is not None:
            column = self.profile.column(self.profile.score)
            reference = column.counts / max(column.counts.sum(), 1)
            counts = np.asarray(window.counts[column.name], dtype=np.float64)
            shares = counts / counts.sum() if counts.sum() else np.zeros_like(counts)
            bounds = [*(_number(e) for e in column.edges), "+Inf", "NaN"]
            samples = []
            for side, values in (("reference", reference), ("window", shares)):
                for label, le, value in zip(column.labels, bounds, values.tolist(), strict=True):
                    samples.append(
                        ({"column": column.name, "bin": label, "le": le, "side": side}, value)
                    )
            gauge(
                "drift_share",
                "Share of the score per reference bin: the live window's and the reference's.",
                samples,
            )
        return "\n".join(lines) + "\n"
