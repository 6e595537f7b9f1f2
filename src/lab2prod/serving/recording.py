"""What a scoring service records of what it scores: the prediction log and the live drift.

:func:`start_recording` (in the service's ``__init__``, after :func:`~lab2prod.serving.scorer.
load_scorer`) attaches a :class:`Recorder` to the scorer. Each scored batch then goes, by
reference, to

- the worker's :class:`~lab2prod.monitoring.sink.PredictionSink`: every transaction's model
  inputs, its score and decision, the request's id, the model's tag and the time it was
  scored, written as parquet parts of the prediction log the monitoring reads
  (``kedro monitor check``), from a background thread;
- the worker's :class:`~lab2prod.monitoring.live.LiveCounts`: counts on the reference
  profile's bins, merged across workers into drift gauges on ``/metrics`` by
  :meth:`Recorder.metrics` (the service's ``__metrics__`` hook).

Neither does any I/O or computation in the request's path. :meth:`Recorder.close` (the
service's ``@bentoml.on_shutdown`` hook) writes what is left: a clean shutdown loses nothing
that was answered.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lab2prod.errors import MonitoringError

if TYPE_CHECKING:
    import pandas as pd

    from lab2prod.monitoring.live import LiveCounts, LiveDrift
    from lab2prod.monitoring.sink import PredictionSink
    from lab2prod.serving.scorer import BatchScorer

__all__ = ["REQUEST_ID", "Recorder", "start_recording"]

REQUEST_ID = "request_id"
"""The prediction log's column of the request id (the client's ``X-Request-ID``, else one made
per request), and the name of the batch column carrying it to the scorer."""
MODEL = "model"
SCORED_AT = "scored_at"

logger = logging.getLogger(__name__)


@dataclass
class Recorder:
    """Hands each scored batch to the prediction log and the live counts.

    Attributes:
        model: The tag of the model scoring (the log's ``model`` column).
        sink: The worker's prediction log, or ``None`` when off.
        live: The worker's live drift counts, or ``None`` when off.
        drift: The server's drift gauges (from every worker's counts), or ``None``.
    """

    model: str
    sink: PredictionSink | None = None
    live: LiveCounts | None = None
    drift: LiveDrift | None = None

    def __call__(
        self,
        inputs: pd.DataFrame | Mapping[str, Any],
        outputs: pd.DataFrame | Mapping[str, Any],
        request_ids: Sequence[str] | None,
    ) -> None:
        # References only: both join and convert what they were handed on their own thread.
        if self.sink is not None:
            extra: dict[str, Any] = {MODEL: self.model, SCORED_AT: datetime.now(UTC)}
            if request_ids is not None:
                ids = request_ids if isinstance(request_ids, list) else list(request_ids)
                extra[REQUEST_ID] = ids
            self.sink.add(inputs, outputs, **extra)
        if self.live is not None:
            self.live.add(inputs, outputs)

    def metrics(self, content: str) -> str:
        """``content`` (BentoML's ``/metrics`` page) with the drift gauges appended."""
        if self.drift is None:
            return content
        try:
            return content + self.drift.exposition()
        except (MonitoringError, OSError, ValueError) as exc:
            # /metrics must answer whatever happens to the gauges: a failed page is a target
            # down for Prometheus, and every other series would be lost with it.
            logger.warning("Live drift gauges left out of /metrics: %s", exc)
            return content

    def close(self) -> None:
        """Write what is buffered and stop (idempotent)."""
        if self.sink is not None:
            self.sink.close()
        if self.live is not None:
            self.live.close()


def start_recording(
    scorer: BatchScorer,
    *,
    prefix: str,
    log: str | None,
    live_drift: bool,
    window_seconds: float = 3600.0,
    flush_seconds: float = 10.0,
    flush_rows: int = 50_000,
) -> Recorder:
    """Attach a recorder to ``scorer`` and start its background threads.

    Args:
        scorer: The service's scorer (from ``load_scorer``: it knows the model package).
        prefix: The metric name prefix (``fraud_detection``).
        log: Where the prediction log goes (a folder, or ``s3://bucket/prefix`` with fsspec's
            credentials from the environment), or ``None`` for no log.
        live_drift: Whether to count against the reference profile for the drift gauges.
        window_seconds: How far back the live drift window reaches.
        flush_seconds: Write a part of the log at least this often ...
        flush_rows: ... and whenever this many rows are waiting.

    Returns:
        The recorder (close it at shutdown).
    """
    from lab2prod.monitoring.check import reference_of_package
    from lab2prod.monitoring.reference import ReferenceProfile

    recorder = Recorder(model=scorer.tag)
    if log:
        from lab2prod.monitoring.sink import PredictionSink

        counters = _log_metrics(prefix)
        recorder.sink = PredictionSink(
            log,
            max_rows=flush_rows,
            max_seconds=flush_seconds,
            on_write=lambda rows, _: counters.labels(outcome="written").inc(rows),
            on_drop=lambda rows: counters.labels(outcome="dropped").inc(rows),
        ).start()
    if live_drift:
        try:
            profile = ReferenceProfile.from_dict(reference_of_package(scorer.package))
        except MonitoringError as exc:
            logger.warning("No live drift gauges: %s", exc)
        else:
            from lab2prod.monitoring.live import LiveCounts, LiveDrift

            profile = _served(profile)
            directory = _shared_directory()
            publish = min(5.0, window_seconds / 12)
            recorder.live = LiveCounts(
                profile, directory=directory, window_seconds=window_seconds, publish_seconds=publish
            ).start()
            recorder.drift = LiveDrift(
                profile, directory=directory, prefix=prefix, publish_seconds=publish
            )
    scorer.on_scored = recorder
    return recorder


def _served(profile: Any) -> Any:
    """The profile without the label columns: a service never sees labels."""
    from dataclasses import replace

    return replace(profile, columns=tuple(c for c in profile.columns if c.role != "label"))


def _shared_directory() -> str:
    """A folder every worker of this server sees and no other server does: BentoML's
    Prometheus multiprocess folder (made per server), else one per parent process."""
    shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if shared:
        return shared
    return os.path.join(tempfile.gettempdir(), f"lab2prod-live-drift-{os.getppid()}")


@functools.cache
def _log_metrics(prefix: str) -> Any:
    from prometheus_client import Counter

    counter = Counter(
        f"{prefix}_prediction_log_rows",
        "Predictions written to the prediction log, or dropped when it could not be written.",
        ["outcome"],
    )
    for outcome in ("written", "dropped"):
        counter.labels(outcome=outcome)
    return counter
