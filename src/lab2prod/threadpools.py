"""Native thread pools (OpenMP, BLAS) sized to the cores a process owns, not to the machine.

scikit-learn's gradient boosting predicts on an OpenMP pool, and numpy's BLAS has a pool of its
own: each sizes itself to every core it can see. Several processes on one machine (serving
workers, the kernels of a notebook sweep, Dask workers) each spinning a pool that size fight
over the cores: two serving workers on two cores fell from ~900 to ~40 requests a second after
15 s of load, each at 100% CPU, spinning (docs/serving.md). A process that shares the machine
with N-1 others should size its pools to its share.

- :func:`threads_per_worker`: a process's share, ``LAB2PROD_THREADS_PER_WORKER`` or the cores
  this process may use (CPU affinity and a container's CPU quota) divided by the workers.
- :func:`thread_environment`, :func:`worker_environment`: the environment variables that size
  the pools of a process started with them (a kernel, a worker), read by each library as it
  loads.
- :class:`ThreadPoolLimit`: the same limit inside a running process, before the model loads:
  the environment for libraries not loaded yet, threadpoolctl for those already loaded.

OpenMP's limit is per thread: ``omp_set_num_threads`` (what threadpoolctl calls) sizes the
pools of the thread that calls it only, while ``OMP_NUM_THREADS`` sizes everyone's, but only
if set before the library loads. :meth:`ThreadPoolLimit.enter_thread` covers a thread that
computes (a server's request thread) when the library was loaded before the limit was set.
threadpoolctl is imported only when a limit is applied or read back.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from lab2prod.errors import SettingError

__all__ = [
    "SETTING",
    "THREAD_VARIABLES",
    "ThreadPoolLimit",
    "available_cores",
    "pool_sizes",
    "thread_environment",
    "threads_per_worker",
    "worker_environment",
]

SETTING = "LAB2PROD_THREADS_PER_WORKER"
"""The environment variable that overrides a worker's share of threads."""

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",  # OpenMP: scikit-learn, LightGBM, XGBoost
    "OPENBLAS_NUM_THREADS",  # numpy's and scipy's BLAS
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
"""What each native library reads its pool size from when it loads (the list BentoML's and
Dask's workers set too)."""

_CGROUP = Path("/sys/fs/cgroup")


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by its cgroup's CPU quota.

    In a container limited to 1.5 CPUs on a 32-core node that is 2 (the quota rounded up: a
    pool of 1 would leave half a core idle), where ``os.cpu_count()`` says 32.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, cores)


def _cgroup_quota() -> float | None:
    """CPUs per period the cgroup allows (``cpu.max`` in v2, the CFS files in v1), or None."""
    try:
        quota, period = (_CGROUP / "cpu.max").read_text().split()
        return int(quota) / int(period) if quota != "max" else None
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((_CGROUP / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((_CGROUP / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def threads_per_worker(
    workers: int, *, cores: int | None = None, environ: Mapping[str, str] | None = None
) -> int:
    """How many threads each of ``workers`` processes sharing this machine should use.

    Args:
        workers: How many processes compute at the same time.
        cores: The cores they share (default: :func:`available_cores`).
        environ: Where to read ``LAB2PROD_THREADS_PER_WORKER`` (default: ``os.environ``).

    Returns:
        ``LAB2PROD_THREADS_PER_WORKER`` when set, else ``cores // workers``, at least 1.

    Raises:
        SettingError: If ``LAB2PROD_THREADS_PER_WORKER`` is not an integer >= 1.
    """
    raw = (os.environ if environ is None else environ).get(SETTING, "").strip()
    if raw:
        try:
            threads = int(raw)
        except ValueError:
            threads = 0
        if threads < 1:
            raise SettingError(
                f"{SETTING}={raw!r} is not a number of threads: set it to an integer >= 1 "
                "(the threads each worker's OpenMP and BLAS pools may use), or unset it to "
                "give each worker its share of the cores"
            )
        return threads
    if workers < 1:
        raise ValueError(f"workers must be 1 or more, not {workers}")
    return max(1, (available_cores() if cores is None else cores) // workers)


def thread_environment(threads: int) -> dict[str, str]:
    """The environment variables that start a process with native pools of ``threads``."""
    return dict.fromkeys(THREAD_VARIABLES, str(threads))


def worker_environment(workers: int) -> dict[str, str]:
    """The environment for each of ``workers`` processes about to start on this machine (the
    kernels of a sweep, say): :func:`thread_environment` of their share, or nothing for a
    lone worker when ``LAB2PROD_THREADS_PER_WORKER`` is unset (it sizes its pools as usual).

    Raises:
        SettingError: If ``LAB2PROD_THREADS_PER_WORKER`` is not an integer >= 1.
    """
    if workers <= 1 and not os.environ.get(SETTING, "").strip():
        return {}
    return thread_environment(threads_per_worker(workers))


def pool_sizes() -> dict[str, int]:
    """The size of each kind of native pool loaded in this process, as the calling thread sees
    it (threadpoolctl's read-back): ``{"openmp": 1, "blas": 1}``, the largest of each kind."""
    from threadpoolctl import threadpool_info

    sizes: dict[str, int] = {}
    for pool in threadpool_info():
        kind = pool["user_api"]
        sizes[kind] = max(sizes.get(kind, 0), int(pool["num_threads"]))
    return sizes


class ThreadPoolLimit:
    """Holds this process's native pools to ``threads``: call :meth:`apply` once, at start-up,
    before the model (and the libraries it needs) loads.

    Args:
        threads: The pool size, e.g. ``threads_per_worker(workers)``.
        on_thread: Called in each thread :meth:`enter_thread` limits, right after (to report
            the sizes it reads back, say).
    """

    def __init__(self, threads: int, *, on_thread: Callable[[], None] | None = None) -> None:
        if threads < 1:
            raise ValueError(f"threads must be 1 or more, not {threads}")
        self.threads = threads
        self.on_thread = on_thread
        self._local = threading.local()

    def apply(self) -> None:
        """Limit the pools: libraries loaded from now on through their environment variables
        (for every thread), those loaded already through threadpoolctl (BLAS for the whole
        process, OpenMP for this thread)."""
        from threadpoolctl import ThreadpoolController

        os.environ.update(thread_environment(self.threads))
        ThreadpoolController().limit(limits=self.threads)

    def enter_thread(self) -> bool:
        """Hold the calling thread's OpenMP pools to the limit too; cheap after the first call
        in a thread. Call it where a thread computes (a request handler).

        Returns:
            True the first time in a thread (the limit was just applied to it), else False.
        """
        if getattr(self._local, "limited", False):
            return False
        from threadpoolctl import ThreadpoolController

        # A controller made now also sees the libraries loaded since apply() (the model's).
        ThreadpoolController().limit(limits=self.threads, user_api="openmp")
        self._local.limited = True
        if self.on_thread is not None:
            self.on_thread()
        return True
