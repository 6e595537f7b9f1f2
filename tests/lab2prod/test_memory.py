"""What a run frees goes back to the system: Arrow on the system allocator, glibc's trim
threshold fixed low (lab2prod.memory)."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pyarrow as pa
import pytest

from fraud_detection import settings
from lab2prod.memory import SystemMemoryHooks

# A 16 MiB block freed raises glibc's dynamic thresholds (mmap to 16 MiB, trim to 32 MiB); 24
# blocks of 1 MiB then come from the heap, and freeing them keeps all 24 MiB in the process
# unless the trim threshold is fixed. Prints the MiB still resident after the free.
_RETAINED = """
import ctypes, sys
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
if sys.argv[1] == "hook":
    from lab2prod.memory import SystemMemoryHooks
    SystemMemoryHooks().before_dataset_saved(dataset_name="x", data=None, node=None)
big = ctypes.create_string_buffer(16 * 2**20)
del big
before = rss()
blocks = [ctypes.create_string_buffer(2**20) for _ in range(24)]
del blocks
print(rss() - before)
"""


@pytest.fixture
def arrow_default_pool():
    """pyarrow's own default pool for the test, the previous one back after it."""
    before = pa.default_memory_pool()
    pa.set_memory_pool(pa.mimalloc_memory_pool())
    yield
    pa.set_memory_pool(before)


def test_arrow_reads_through_the_system_allocator_once_a_dataset_loads(
    arrow_default_pool, tmp_path
):
    """After the hook, a parquet read allocates from the system pool, not Arrow's own."""
    path = tmp_path / "t.parquet"
    pd.DataFrame({"x": range(100_000)}).to_parquet(path)
    SystemMemoryHooks().before_dataset_loaded(dataset_name="t", node=None)
    table = pa.parquet.read_table(path)
    assert pa.default_memory_pool().backend_name == "system"
    assert pa.system_memory_pool().bytes_allocated() >= table.nbytes


def _retained_mib(mode: str, **env: str) -> float:
    environment = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    result = subprocess.run(
        [sys.executable, "-c", _RETAINED, mode],
        env={**environment, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_memory_a_step_frees_leaves_the_process_once_a_dataset_is_saved():
    """Without the hook glibc keeps the 24 MiB freed; with it, they go back to the system."""
    assert _retained_mib("none") >= 20
    assert _retained_mib("hook") < 4


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_a_trim_threshold_the_user_set_is_kept():
    """MALLOC_TRIM_THRESHOLD_ in the environment wins over the hook's value (the 1 MiB blocks
    from the heap, as the mmap threshold set beside it says)."""
    settings = {"MALLOC_TRIM_THRESHOLD_": str(2**30), "MALLOC_MMAP_THRESHOLD_": str(2**23)}
    assert _retained_mib("hook", **settings) >= 20


def test_the_project_registers_the_hook():
    """settings.HOOKS holds it, so every run and every Dask worker of the project uses it."""
    assert any(isinstance(hook, SystemMemoryHooks) for hook in settings.HOOKS)
