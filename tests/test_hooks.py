"""The project's hooks: Arrow on the system allocator wherever data is loaded or saved."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from fraud_detection import settings
from fraud_detection.hooks import ArrowSystemMemoryHooks


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
    ArrowSystemMemoryHooks().before_dataset_loaded(dataset_name="t", node=None)
    table = pa.parquet.read_table(path)
    assert pa.default_memory_pool().backend_name == "system"
    assert pa.system_memory_pool().bytes_allocated() >= table.nbytes


def test_the_project_registers_the_hook():
    """settings.HOOKS holds it, so every run and every Dask worker of the project uses it."""
    assert any(isinstance(hook, ArrowSystemMemoryHooks) for hook in settings.HOOKS)
