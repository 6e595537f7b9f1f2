"""ValueDataset and NumpyDataset: a value saved comes back equal, in the most specific format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, DatasetError
from sklearn.linear_model import LinearRegression

from lab2prod.datasets import NumpyDataset, ValueDataset

VALUES = [
    ("frame", pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), ".parquet"),
    ("non-string columns", pd.DataFrame({0: [1.5], 1: [2.5]}), ".parquet"),
    ("meaningful index", pd.DataFrame({"a": [1]}, index=pd.Index(["k"], name="key")), ".parquet"),
    ("mixed-type column", pd.DataFrame({"a": [1, "x"]}), ".pkl"),
    ("series", pd.Series([1.0, 2.0], index=["a", "b"], name="score"), ".parquet"),
    ("array", np.arange(6).reshape(2, 3), ".npy"),
    ("array of objects", np.array([{"a": 1}, None], dtype=object), ".pkl"),
    ("numpy float", np.float32(1.5), ".json"),
    ("numpy int", np.int64(3), ".json"),
    ("plain dict", {"a": 1, "b": [1.0, None]}, ".json"),
    ("int keys", {0: "a", 1: "b"}, ".pkl"),
    ("tuple", (1, 2), ".pkl"),
    ("model", LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), ".pkl"),
]


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, pd.DataFrame):
        pd.testing.assert_frame_equal(left, right)
        return True
    if isinstance(left, pd.Series):
        pd.testing.assert_series_equal(left, right)
        return True
    if isinstance(left, np.ndarray):
        return left.dtype == right.dtype and (left == right).all()
    if isinstance(left, LinearRegression):
        return (left.coef_ == right.coef_).all()
    return bool(left == right)


@pytest.mark.parametrize(("what", "value", "suffix"), VALUES, ids=[v[0] for v in VALUES])
def test_a_value_loads_back_equal_in_the_most_specific_format(
    tmp_path: Path, what: str, value: Any, suffix: str
):
    """Each value comes back equal; pickle only for what parquet, npy and JSON cannot keep."""
    dataset = ValueDataset(filepath=str(tmp_path / "value"))
    dataset.save(value)
    assert [p.name for p in tmp_path.iterdir()] == [f"value{suffix}"], what
    assert _equal(value, dataset.load()), what


def test_saving_another_kind_of_value_replaces_the_old_file(tmp_path: Path):
    """A frame, then a number under the same name: only the number's file is left."""
    dataset = ValueDataset(filepath=str(tmp_path / "value"))
    dataset.save(pd.DataFrame({"a": [1]}))
    dataset.save(2.5)
    assert [p.name for p in tmp_path.iterdir()] == ["value.json"]
    assert dataset.load() == 2.5


def test_a_value_nothing_can_hold_is_a_clear_error(tmp_path: Path):
    """A generator is not data and does not pickle: the error says what to do."""
    dataset = ValueDataset(filepath=str(tmp_path / "value"))
    with pytest.raises(DatasetError, match=r"cannot be pickled.*return what it holds"):
        dataset.save(x for x in [1])
    assert not list(tmp_path.iterdir())


def _scaled_by(factor: float) -> Any:
    def scale(x: float) -> float:
        return factor * x

    return scale


def test_a_value_holding_a_local_function_is_pickled_by_value(tmp_path: Path):
    """A model holding a function defined inside a function (as lmfit's composite models do)."""
    dataset = ValueDataset(filepath=str(tmp_path / "value"))
    dataset.save({"model": _scaled_by(3.0), "name": "triple"})
    loaded = dataset.load()
    assert [p.name for p in tmp_path.iterdir()] == ["value.pkl"]
    assert (loaded["model"](2.0), loaded["name"]) == (6.0, "triple")


def test_loading_before_any_save_names_the_files_looked_for(tmp_path: Path):
    """No file yet: the error lists the names it looked for."""
    with pytest.raises(DatasetError, match=r"value\.parquet, value\.npy, value\.json, value\.pkl"):
        ValueDataset(filepath=str(tmp_path / "value")).load()


def test_numpy_dataset_from_the_catalog_never_pickles(tmp_path: Path):
    """Declared in a catalog, an array round-trips; an array of objects is refused."""
    catalog = DataCatalog.from_config(
        {"x": {"type": "lab2prod.datasets.NumpyDataset", "filepath": str(tmp_path / "x.npy")}}
    )
    catalog.save("x", np.array([1.0, 2.0]))
    assert (catalog.load("x") == np.array([1.0, 2.0])).all()
    with pytest.raises(DatasetError, match="without pickle"):
        NumpyDataset(filepath=str(tmp_path / "o.npy")).save(np.array([{}], dtype=object))
