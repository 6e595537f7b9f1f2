"""Fixtures of the evaluation tests: the training tests' synthetic input, one OpenMP thread."""

from __future__ import annotations

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from tests.pipelines.training.conftest import make_model_input


@pytest.fixture(scope="session")
def model_input() -> pd.DataFrame:
    """Three thousand rows over 30 days, about 4% fraud."""
    return make_model_input()


@pytest.fixture(autouse=True)
def one_openmp_thread():
    """Fit on one thread: tiny data gains nothing from more, and busy-waiting OpenMP threads
    slow to a crawl when other processes share the cores."""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield
