"""Node functions and datasets for the DaskRunner tests: importable by the workers' processes."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset


def double(x: list[int]) -> list[int]:
    return [2 * v for v in x]


def add_one(x: list[int]) -> list[int]:
    return [v + 1 for v in x]


def total(a: list[int], b: list[int]) -> int:
    return sum(a) + sum(b)


def kill_worker_once(x: list[int], marker: str) -> list[int]:
    """Kill this worker's process the first time (a worker lost mid-node); then work."""
    path = Path(marker)
    with path.open("a") as attempts:
        attempts.write(f"{os.getpid()}\n")
    if len(path.read_text().splitlines()) == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return [v * 10 for v in x]


def fail_once(x: list[int], marker: str) -> list[int]:
    """Raise the first time (a transient failure), then work."""
    path = Path(marker)
    with path.open("a") as attempts:
        attempts.write(f"{os.getpid()}\n")
    if len(path.read_text().splitlines()) == 1:
        raise ConnectionError("the database went away")
    return [v * 10 for v in x]


def note_call(x: list[int], marker: str) -> list[int]:
    Path(marker).write_text("ran")
    return x


class LockedDataset(AbstractDataset):
    """A dataset holding a lock: it cannot be pickled, so it cannot travel to a worker."""

    def __init__(self, data: Any = None) -> None:
        self._lock = threading.Lock()
        self._data = data

    def load(self) -> Any:
        return self._data

    def save(self, data: Any) -> None:
        self._data = data

    def _describe(self) -> dict[str, Any]:
        return {}


def keys_left(y: list[int], prefixes: list[str]) -> dict[str, list[str]]:
    """By prefix, the in-memory datasets whose key starts with it and whose data a worker still
    holds (a released one may stay known to the scheduler, as lineage, without data)."""
    from distributed import get_client

    def holding(dask_scheduler):
        return {
            prefix: sorted(
                str(key)
                for key, task in dask_scheduler.tasks.items()
                if str(key).startswith(prefix) and task.state == "memory"
            )
            for prefix in prefixes
        }

    return get_client().run_on_scheduler(holding)


def kill_worker_always(x: list[int]) -> list[int]:
    """Kill this worker's process every time (a node that cannot fit in a worker's memory)."""
    os.kill(os.getpid(), signal.SIGKILL)
    return x


def same(x: Any) -> Any:
    return x


def spell(x: list[int], seconds: float) -> tuple[float, float]:
    """Hold a worker for ``seconds``; when it started and ended (wall clock)."""
    start = time.time()
    time.sleep(seconds)
    return start, time.time()
