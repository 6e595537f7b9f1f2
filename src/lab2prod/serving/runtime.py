"""How a serving worker sets itself up: native thread pools sized to its share of the cores.

Call :func:`limit_worker_threads` first thing in the service's ``__init__`` (each worker runs
it once, before the model loads). A worker's share is ``LAB2PROD_THREADS_PER_WORKER`` when set,
else the cores the server may use divided by its workers (``workers="cpu_count"``: one each).
Each scoring thread reports the pool sizes it reads back (threadpoolctl) on ``/metrics`` as
``lab2prod_native_threads{pool=...}``.
"""

from __future__ import annotations

from typing import Any

from lab2prod import threadpools
from lab2prod.serving import internals

__all__ = ["limit_worker_threads"]


def limit_worker_threads(service: Any) -> threadpools.ThreadPoolLimit:
    """Limit this worker's OpenMP and BLAS pools to its share of the cores, and return the
    limit for the scorer to hold its threads to (:class:`~lab2prod.serving.api.BatchScorer`).

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
