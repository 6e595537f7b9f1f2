"""A small synthetic ``model_input`` and the project's training/evaluation configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline
from kedro.validation import ParameterValidator
from threadpoolctl import threadpool_limits

from tests.conftest import ROOT

FEATURES = ["x0", "x1", "noise"]
START = np.datetime64("2026-01-01T00:00:00", "us")
SPAN = np.timedelta64(30, "D").astype("timedelta64[us]")


def make_model_input(n_rows: int = 3000, *, seed: int = 0) -> pd.DataFrame:
    """A ``model_input`` whose fraud a linear model cannot find: ``|x0| < 0.22 and |x1| < 0.22``.

    Fraud sits in a small square in the middle of the (x0, x1) plane, an interaction of four
    thresholds that no linear score can single out. Timestamps are evenly spread over 30 days,
    in order; about 4% of rows are fraud, one in ten of them labelled legitimate (label noise).
    """
    rng = np.random.default_rng(seed)
    x0, x1, noise = rng.uniform(-1.0, 1.0, size=(3, n_rows))
    in_square = (np.abs(x0) < 0.22) & (np.abs(x1) < 0.22)
    is_fraud = in_square & (rng.random(n_rows) > 0.1)
    offsets = np.linspace(0, SPAN.astype(np.int64), n_rows).astype(np.int64).astype(SPAN.dtype)
    return pd.DataFrame(
        {
            "transaction_id": [f"tx{i:010d}" for i in range(n_rows)],
            "timestamp": START + offsets,
            "is_fraud": is_fraud.astype("int8"),
            "x0": x0,
            "x1": x1,
            "noise": noise,
        }
    )


def load_conf(name: str) -> dict[str, Any]:
    """One YAML file of the project's ``conf/base``, e.g. ``parameters_training``."""
    return yaml.safe_load((ROOT / "conf" / "base" / f"{name}.yml").read_text())


def validated_params(pipeline: Pipeline, raw_params: dict[str, Any]) -> dict[str, Any]:
    """Build the typed parameters as ``kedro run`` does before any node runs."""
    return ParameterValidator({"__default__": pipeline}).validate_raw_params(raw_params)


def add_params(catalog: DataCatalog, params: dict[str, Any], prefix: str = "params:") -> None:
    """Register every parameter and nested parameter as ``params:a.b`` datasets, like Kedro."""
    for key, value in params.items():
        catalog[f"{prefix}{key}"] = value
        if isinstance(value, dict):
            add_params(catalog, value, prefix=f"{prefix}{key}.")


def catalog_in(tmp_path: Path, *names: str) -> DataCatalog:
    """A catalog from the project's ``conf/base/<names>.yml``, its files under ``tmp_path``."""
    entries: dict[str, Any] = {}
    for name in names:
        for dataset, config in load_conf(name).items():
            entries[dataset] = {**config, "filepath": str(tmp_path / config["filepath"])}
    return DataCatalog.from_config(entries)


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
