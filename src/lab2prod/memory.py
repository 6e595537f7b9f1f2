"""Memory a run frees goes back to the system, in every process that moves data.

Two allocators keep what a run frees, where the next step cannot use it:

- pyarrow allocates through its own allocator (mimalloc in the wheels), which keeps the pages it
  frees for later Arrow allocations: after ``pd.read_parquet`` the Arrow table it converted is
  freed, but stays in the process's resident memory, where numpy, pandas and scikit-learn (which
  allocate through the C library) cannot reuse it. Reading a 2,000,000-row table (476 MiB of
  data) left the process 1,167 MiB larger; with Arrow on the system allocator and the table freed
  column by column as it is converted (``to_pandas_kwargs: {self_destruct: true}`` in the
  catalog), 581 MiB, and it peaked at 606 MiB instead of 1,167.
- glibc's ``malloc`` hands the top of its heap back only past a trim threshold that grows with
  the largest block freed, so after a step frees gigabytes of pandas temporaries the process
  keeps them. Dask's nannies start every worker with ``MALLOC_TRIM_THRESHOLD_=65536`` for that
  reason; a ``kedro run`` on one machine had no such setting. At 10M transactions the example's
  ``training`` peaked at 8,903 MiB without it and 5,953 MiB with it (docs/operations/dask.md).

:class:`SystemMemoryHooks` applies both before the first dataset is loaded or saved, in the
process that does it: the ``kedro run`` process with ``SequentialRunner``, every Dask worker with
``DaskRunner`` (the worker plugin registers the project's hooks there). A trim threshold the user
set (``MALLOC_TRIM_THRESHOLD_``) is left as it is; on a C library without ``mallopt`` (macOS,
musl) only Arrow's pool is changed. The data read and written are the same bytes either way.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import Any

from kedro.framework.hooks import hook_impl

__all__ = ["TRIM_THRESHOLD", "SystemMemoryHooks", "trim_freed_memory", "use_system_memory_pool"]

TRIM_THRESHOLD = 65536
"""Bytes of free memory at the top of the heap glibc keeps before handing it back (Dask's
workers' default)."""

_M_TRIM_THRESHOLD = -1  # glibc's <malloc.h>
_trim_set = False


class SystemMemoryHooks:
    """Arrow on the system allocator, and glibc's trim threshold low, before data is loaded or
    saved."""

    @hook_impl
    def before_dataset_loaded(self, dataset_name: str, node: Any) -> None:
        _apply()

    @hook_impl
    def before_dataset_saved(self, dataset_name: str, data: Any, node: Any) -> None:
        _apply()


def _apply() -> None:
    use_system_memory_pool()
    trim_freed_memory()


def use_system_memory_pool() -> None:
    """Set pyarrow's default memory pool to the system allocator (cheap once it is)."""
    import pyarrow as pa

    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


def trim_freed_memory(threshold: int = TRIM_THRESHOLD) -> bool:
    """Have glibc hand freed heap memory above ``threshold`` bytes back to the system.

    Once per process; a threshold already set in ``MALLOC_TRIM_THRESHOLD_`` wins. Returns whether
    this process now runs with a fixed trim threshold (``False`` without glibc's ``mallopt``).
    """
    global _trim_set
    if _trim_set:
        return True
    if os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        _trim_set = True  # glibc read it at start-up
        return True
    mallopt = _mallopt()
    if mallopt is None:
        return False
    _trim_set = bool(mallopt(_M_TRIM_THRESHOLD, threshold))
    return _trim_set


def _mallopt() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt
