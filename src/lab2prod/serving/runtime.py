"""How a serving worker sets itself up and runs: thread pools, model version, heap, log, settings.

Call, in the service's ``__init__``, :func:`limit_worker_threads` first (before the model
loads), and :func:`log_client_errors_briefly` and :func:`freeze_startup_heap` last.

- :func:`limit_worker_threads`: the worker's native thread pools (OpenMP, BLAS) sized to its
  share of the cores: ``LAB2PROD_THREADS_PER_WORKER`` when set, else the cores the server may
  use divided by its workers (``workers="cpu_count"``: one each). Each scoring thread reports
  the pool sizes it reads back (threadpoolctl) on ``/metrics`` as
  ``lab2prod_native_threads{pool=...}``.
- :func:`limit_request_head_time`: a connection whose request head trickles in (slowloris) is
  closed after a time, instead of held forever.
- :func:`score_large_requests_at_once`: a request that fills half a batch by itself skips
  adaptive batching's wait.
- :func:`pinned_tag`: the model version a built bento recorded, not whatever ``latest`` is.
- :func:`freeze_startup_heap`: start-up objects out of the garbage collector's way.
- :func:`log_client_errors_briefly`: a refused request as one INFO line, not a traceback.
- :func:`env_int`: an integer setting from the environment, refused clearly when bad.
"""

from __future__ import annotations

import gc
import logging
import os
from typing import Any

from pydantic import ValidationError

from lab2prod import threadpools
from lab2prod.errors import ServingError
from lab2prod.serving import internals

__all__ = [
    "env_int",
    "env_switch",
    "freeze_startup_heap",
    "limit_request_head_time",
    "limit_worker_threads",
    "log_client_errors_briefly",
    "pinned_tag",
    "score_large_requests_at_once",
]


def limit_worker_threads(service: Any) -> threadpools.ThreadPoolLimit:
    """Limit this worker's OpenMP and BLAS pools to its share of the cores, and return the
    limit for the scorer to hold its threads to (:class:`~lab2prod.serving.scorer.BatchScorer`).

    Args:
        service: The BentoML service class (its configured workers give the share).

    Raises:
        SettingError: If ``LAB2PROD_THREADS_PER_WORKER`` is set to something else than an
            integer >= 1.
    """
    workers = internals.configured_workers(service)
    count = threadpools.available_cores() if workers == "cpu_count" else int(workers)
    limit = threadpools.ThreadPoolLimit(
        threadpools.threads_per_worker(max(count, 1)), on_thread=_export_pool_sizes
    )
    limit.apply()
    return limit


def _export_pool_sizes() -> None:
    """Publish the pool sizes the calling (scoring) thread reads back, the largest of any
    worker: a worker whose pools escaped the limit shows here."""
    from lab2prod.serving.metrics import native_threads

    gauge = native_threads()
    for pool, size in threadpools.pool_sizes().items():
        gauge.labels(pool=pool).set(size)


def limit_request_head_time(seconds: float) -> None:
    """Close a connection of this worker whose request line and headers have not all arrived
    ``seconds`` after it opened (or after the request's first byte): a slow client
    (slowloris) cannot hold a connection, nor enough of them the worker's sockets. Call it in
    the service's ``__init__``; the body's own limits are :class:`~lab2prod.serving.middleware.
    RequestGuard`'s."""
    internals.limit_request_head_time(seconds)


def score_large_requests_at_once(min_share: float = 0.5) -> None:
    """Score a request that holds ``min_share`` of its route's ``max_batch_size`` records or
    more at once, not after the wait adaptive batching learned from smaller requests.

    BentoML's dispatcher waits before each batch for as long as recent batches waited: after
    single-record traffic, a 1,000-record request would wait milliseconds for requests it has
    no room for (docs/serving.md, "Large requests"). Smaller requests are batched as before.
    Call it in the service's ``__init__``.
    """
    internals.score_full_inputs_at_once(min_share)


def pinned_tag(service: Any, model: Any) -> str:
    """The tag of ``model`` (a ``BentoModel`` class attribute) to load when the service starts.

    Served from a built bento, that is the exact version the bento recorded at build time, not
    whatever ``latest`` is in the model store by then; served from source, the model's own tag.
    """
    bento = service.bento
    if bento is not None:
        for info in bento.info.services:
            if info.name != service.name:
                continue
            for built in info.models:
                if built.tag.name == model.tag.name:
                    return str(built.tag)
    return str(model.tag)


def freeze_startup_heap() -> None:
    """Exclude everything allocated so far (libraries, the model) from garbage collection.

    Call once, at the end of the service's start-up. Python's full collections otherwise scan
    the whole heap every so often, stalling requests; with the start-up objects frozen they
    scan only what requests allocate (p99 of a no-op BentoML service at concurrency 32:
    ~260 ms -> ~160 ms, measured). Objects frozen are never freed: call it only once the
    long-lived state is built.
    """
    gc.collect()
    gc.freeze()


class _BriefClientErrors(logging.Filter):
    """Turns BentoML's ERROR-with-traceback for a refused request into one INFO line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, ValidationError):
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
            record.msg = (
                record.msg.replace("Exception on", "Refused") + ": 400, %d invalid field(s)"
            )
            record.args = (*(record.args or ()), exc.error_count())
            record.exc_info, record.exc_text = None, None
        return True


def log_client_errors_briefly() -> None:
    """Log each request refused with a 400 as one INFO line, not an ERROR with a traceback.

    BentoML logs every invalid request body as a server error with the full traceback: a
    client sending bad data would fill the log and cost the server CPU on every request. The
    client still gets its 400 naming each field. Call once, at the service's start-up.
    """
    serve_logger = logging.getLogger(internals.HTTP_APP_LOGGER)
    if not any(isinstance(f, _BriefClientErrors) for f in serve_logger.filters):
        serve_logger.addFilter(_BriefClientErrors())


def env_int(name: str, default: int, *, minimum: int = 1) -> int:
    """An integer setting from the environment variable ``name``, or ``default``.

    Raises:
        ServingError: If the variable is set to something else than an integer >= ``minimum``.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ServingError(f"{name}={raw!r} is not an integer >= {minimum}; unset it or fix it")
    return value


_OFF = frozenset({"off", "false", "0", "no", "none"})
_ON = frozenset({"on", "true", "1", "yes"})


def env_switch(name: str, default: str) -> str | None:
    """A setting that is a value or ``off``: ``None`` when the variable ``name`` (else
    ``default``) is ``off`` (or ``false``, ``0``, ``no``, ``none``), else its value (``on``
    for any of ``true``, ``1``, ``yes``)."""
    raw = os.environ.get(name, "").strip() or default
    if raw.lower() in _OFF:
        return None
    return "on" if raw.lower() in _ON else raw
