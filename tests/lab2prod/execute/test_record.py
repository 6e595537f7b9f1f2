"""record(): values a notebook hands back, kept as JSON, parquet or PNG and read back typed."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest
from kedro_datasets.matplotlib import MatplotlibDataset
from matplotlib.figure import Figure
from matplotlib.image import imread

from lab2prod import record
from lab2prod.errors import RecordError
from lab2prod.execute.record import read_records, record_to


@pytest.fixture
def records_dir(tmp_path: Path) -> Iterator[Path]:
    """``record()`` writes into a fresh folder, as in a kernel lab2prod started."""
    record_to(tmp_path)
    yield tmp_path
    record_to(None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.8125, 0.8125),
        (np.float32(0.25), 0.25),
        (np.int64(7), 7),
        ("baseline", "baseline"),
        (True, True),
        (None, None),
        (
            {"auc": 0.9, "bins": [1, 2], "pair": (3, 4)},
            {"auc": 0.9, "bins": [1, 2], "pair": [3, 4]},
        ),
    ],
    ids=["float", "numpy float", "numpy int", "str", "bool", "None", "nested dict"],
)
def test_json_values_come_back_equal(records_dir: Path, value: Any, expected: Any):
    """Numbers, strings and containers come back as plain Python values."""
    record("metric", value)
    assert read_records(records_dir) == {"metric": expected}
    assert (records_dir / "metric.json").exists()


def test_dataframes_come_back_as_dataframes_of_the_same_library(records_dir: Path):
    """A pandas DataFrame (index kept) and a polars DataFrame survive parquet unchanged."""
    scores = pd.DataFrame({"score": [0.1, 0.9]}, index=pd.Index([10, 11], name="row"))
    counts = pl.DataFrame({"label": ["a", "b"], "n": [3, 4]})
    record("scores", scores)
    record("counts", counts)
    records = read_records(records_dir)
    pd.testing.assert_frame_equal(records["scores"], scores)
    assert records["counts"].equals(counts)


def test_figure_comes_back_pixel_for_pixel_and_saves_without_pickle(records_dir: Path):
    """A recorded figure reads back as a Figure that MatplotlibDataset saves as the same PNG."""
    figure = Figure(figsize=(3, 2))
    figure.add_subplot().plot([1, 3, 2])
    record("curve", figure)
    recorded_png = imread(records_dir / "curve.png")

    back = read_records(records_dir)["curve"]
    assert isinstance(back, Figure)
    saved = records_dir / "saved" / "curve.png"
    MatplotlibDataset(filepath=str(saved)).save(back)
    assert saved.read_bytes().startswith(b"\x89PNG")
    np.testing.assert_array_equal(imread(saved), recorded_png)


def test_recording_a_name_again_replaces_the_value(records_dir: Path):
    """The last record() of a name wins, even when its type changes."""
    record("result", 1)
    record("result", pd.DataFrame({"a": [1]}))
    assert list(read_records(records_dir)) == ["result"]
    assert isinstance(read_records(records_dir)["result"], pd.DataFrame)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("model", object(), "cannot keep a value of type object"),
        ("scores", np.array([0.1, 0.2]), "numpy.ndarray"),
        ("column", pd.Series([1, 2]), "pandas.Series"),
        ("labels", {"a", "b"}, "cannot keep a value of type set"),
        ("nested", {"fit": object()}, "object is not JSON"),
        ("1st", 1, "must be a Python identifier"),
        ("class", 1, "must be a Python identifier"),
    ],
    ids=["object", "ndarray", "series", "set", "nested object", "bad name", "keyword"],
)
def test_unsupported_records_fail_in_the_notebook(
    records_dir: Path, name: str, value: Any, message: str
):
    """A value with no typed format, or a bad name, raises RecordError and writes nothing."""
    with pytest.raises(RecordError, match=message):
        record(name, value)
    assert list(records_dir.iterdir()) == []


def test_outside_a_run_record_checks_but_writes_nothing(tmp_path: Path):
    """Run by hand, record() accepts good values silently and still rejects bad ones."""
    record_to(None)
    record("metric", 0.5)
    with pytest.raises(RecordError):
        record("model", object())


def test_figure_png_is_what_the_notebook_showed(records_dir: Path):
    """The PNG is cropped tight, like the inline image the notebook displays."""
    figure = Figure(figsize=(4, 3), dpi=100)
    figure.add_subplot().plot([0, 1])
    record("plot", figure)
    tight = io.BytesIO()
    figure.savefig(tight, format="png", bbox_inches="tight")
    assert (records_dir / "plot.png").read_bytes() == tight.getvalue()
