"""Data for the generated test of ``customer_profiles`` (this file is written by hand).

The pipeline reads ``raw_transactions``, which the ``data_generation`` pipeline writes: the
generated test runs on the suite's small project run (``small_run``), through the
``notebook_data_project`` fixture it looks for. That run is slow, so the test is marked slow.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture
def notebook_data_project(small_run: Path) -> Path:
    """A project copy on which `kedro run` wrote data/01_raw/transactions.parquet."""
    return small_run


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent == HERE:
            item.add_marker(pytest.mark.slow)
