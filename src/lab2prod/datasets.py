"""Kedro datasets for what converted notebooks make: numpy arrays, and values of any type.

kedro-datasets has no dataset for a numpy array, and a converted notebook's results often have
no type the code makes plain (what a function returns, a ``Series``, a numpy scalar, a dict of
arrays). ``ValueDataset`` saves such a value in the most specific format that loads it back
equal, checked when it saves, and pickle only when nothing else does:

================================================  ==========================================
value                                             file
================================================  ==========================================
a pandas DataFrame or Series that parquet keeps   ``<filepath>.parquet`` (index, names, dtypes)
a numpy array of numbers, bools, dates, strings   ``<filepath>.npy`` (no pickle)
numbers, strings, bools, None, lists and dicts    ``<filepath>.json`` (numpy scalars as numbers)
of them with string keys, that JSON gives back
anything else                                     ``<filepath>.pkl`` (cloudpickle for what pickle
                                                  cannot keep by reference: local functions)
================================================  ==========================================

Both work on any ``fsspec`` filesystem, as kedro-datasets' datasets do. They import numpy and
pandas only when a value of theirs is met.
"""

from __future__ import annotations

import io
import json
import pickle
import warnings
from copy import deepcopy
from pathlib import PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import AbstractDataset, DatasetError, get_filepath_str, get_protocol_and_path

_SERIES = "__lab2prod_series__"
"""The column a Series is stored under in parquet; its name goes to the file's metadata."""
_SUFFIXES = (".parquet", ".npy", ".json", ".pkl")


class _FileDataset(AbstractDataset[Any, Any]):
    """A dataset on an ``fsspec`` filesystem: the parts both datasets share."""

    def __init__(
        self,
        *,
        filepath: str,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        fs_args = deepcopy(fs_args) or {}
        protocol, path = get_protocol_and_path(filepath)
        if protocol == "file":
            fs_args.setdefault("auto_mkdir", True)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol, **(deepcopy(credentials) or {}), **fs_args)
        self._filepath = PurePosixPath(path)
        self._load_args = dict(load_args or {})
        self._save_args = dict(save_args or {})
        self.metadata = metadata

    def _path(self, suffix: str = "") -> str:
        return get_filepath_str(PurePosixPath(f"{self._filepath}{suffix}"), self._protocol)

    def _write(self, path: str, data: bytes) -> None:
        with self._fs.open(path, mode="wb") as file:
            file.write(data)

    def _read(self, path: str) -> bytes:
        with self._fs.open(path, mode="rb") as file:
            return file.read()

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": str(self._filepath),
            "protocol": self._protocol,
            "load_args": self._load_args,
            "save_args": self._save_args,
        }


class NumpyDataset(_FileDataset):
    """A numpy array in a ``.npy`` file (``numpy.save`` / ``numpy.load``, never pickled).

    Example::

        features:
          type: lab2prod.datasets.NumpyDataset
          filepath: data/05_model_input/features.npy
    """

    def load(self) -> Any:
        import numpy as np

        return np.load(io.BytesIO(self._read(self._path())), **self._load_args)

    def save(self, data: Any) -> None:
        import numpy as np

        buffer = io.BytesIO()
        try:
            np.save(buffer, np.asarray(data), allow_pickle=False, **self._save_args)
        except ValueError as exc:
            raise DatasetError(
                f"Cannot save a numpy array of dtype {np.asarray(data).dtype} to "
                f"{self._filepath} without pickle: {exc}. Use lab2prod.datasets.ValueDataset "
                "for objects."
            ) from exc
        self._write(self._path(), buffer.getvalue())

    def _exists(self) -> bool:
        return self._fs.exists(self._path())


class ValueDataset(_FileDataset):
    """Any value, in the most specific format that loads it back equal; pickle last.

    ``filepath`` has no suffix: the file is ``<filepath>.parquet``, ``.npy``, ``.json`` or
    ``.pkl``, as the value saved calls for (see the module's table); saving removes a file of
    another format left by an earlier value.

    Example::

        report.scores:
          type: lab2prod.datasets.ValueDataset
          filepath: data/08_reporting/report/scores
    """

    def load(self) -> Any:
        for suffix in _SUFFIXES:
            path = self._path(suffix)
            if self._fs.exists(path):
                return _decode(suffix, self._read(path))
        raise DatasetError(
            f"No saved value at {self._filepath} (looked for "
            f"{', '.join(self._filepath.name + s for s in _SUFFIXES)}). Run the node that "
            "makes it first."
        )

    def save(self, data: Any) -> None:
        suffix, encoded = encode(data)
        self._write(self._path(suffix), encoded)
        for other in _SUFFIXES:
            if other != suffix and self._fs.exists(self._path(other)):
                self._fs.rm(self._path(other))

    def _exists(self) -> bool:
        return any(self._fs.exists(self._path(suffix)) for suffix in _SUFFIXES)


def encode(value: Any) -> tuple[str, bytes]:
    """The suffix and bytes of the most specific format that gives ``value`` back equal.

    Raises:
        DatasetError: Nothing fits, not even pickle (an open file, a lock, a generator...).
    """
    for encoder in (_parquet, _npy, _json):
        found = encoder(value)
        if found is not None and _same(value, _decode(found[0], found[1])):
            return found
    try:
        return ".pkl", pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        pass
    # A function or class defined inside a function (a closure, an lmfit composite model's
    # model function) cannot be pickled by reference; cloudpickle keeps it by value, in a file
    # that pickle loads (with cloudpickle installed).
    import cloudpickle

    try:
        return ".pkl", cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise DatasetError(
            f"Cannot save a value of type {type(value).__module__}.{type(value).__qualname__}: "
            f"it is not data (parquet, numpy, JSON) and cannot be pickled ({exc}). Keep it "
            "inside one node, or return what it holds instead."
        ) from exc


def _parquet(value: Any) -> tuple[str, bytes] | None:
    pandas = _module("pandas")
    if pandas is None or not isinstance(value, pandas.DataFrame | pandas.Series):
        return None
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = value.to_frame(_SERIES) if isinstance(value, pandas.Series) else value
    try:
        with warnings.catch_warnings():  # mixed-type column names: the check below decides
            warnings.simplefilter("ignore", UserWarning)
            table = pa.Table.from_pandas(frame)
    except (pa.ArrowException, TypeError, ValueError):
        return None  # mixed-type object columns and the like: parquet cannot hold them
    if isinstance(value, pandas.Series):
        meta = dict(table.schema.metadata or {})
        meta[b"lab2prod"] = json.dumps({"series_name": _json_name(value.name)}).encode()
        table = table.replace_schema_metadata(meta)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return ".parquet", buffer.getvalue()


def _npy(value: Any) -> tuple[str, bytes] | None:
    numpy = _module("numpy")
    if numpy is None or not isinstance(value, numpy.ndarray) or value.dtype.kind == "O":
        return None
    buffer = io.BytesIO()
    numpy.save(buffer, value, allow_pickle=False)
    return ".npy", buffer.getvalue()


def _json(value: Any) -> tuple[str, bytes] | None:
    try:
        text = json.dumps(value, default=_numpy_scalar, allow_nan=True)
    except (TypeError, ValueError):
        return None
    return ".json", text.encode("utf-8")


def _decode(suffix: str, data: bytes) -> Any:
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(data))
        frame = table.to_pandas()
        meta = (table.schema.metadata or {}).get(b"lab2prod")
        if meta is not None:
            series = frame[_SERIES]
            series.name = json.loads(meta)["series_name"]
            return series
        return frame
    if suffix == ".npy":
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)
    if suffix == ".json":
        return json.loads(data)
    return pickle.loads(data)  # the project's own file, written by save


def _same(value: Any, loaded: Any) -> bool:
    """Whether ``loaded`` is ``value`` as saved: same types, same contents."""
    pandas, numpy = _module("pandas"), _module("numpy")
    if pandas is not None and isinstance(value, pandas.DataFrame | pandas.Series):
        if type(loaded) is not type(value):
            return False
        try:
            if isinstance(value, pandas.Series):
                pandas.testing.assert_series_equal(loaded, value, check_exact=True)
            else:
                pandas.testing.assert_frame_equal(loaded, value, check_exact=True)
        except AssertionError:
            return False
        return True
    if numpy is not None and isinstance(value, numpy.ndarray):
        return (
            isinstance(loaded, numpy.ndarray)
            and loaded.dtype == value.dtype
            and numpy.array_equal(loaded, value, equal_nan=value.dtype.kind in "fc")
        )
    return _same_plain(value, loaded)


def _same_plain(value: Any, loaded: Any) -> bool:
    """JSON gives back lists for tuples and string keys for others: those are not the same."""
    numpy = _module("numpy")
    if numpy is not None and isinstance(value, numpy.generic):
        value = value.item()
    if isinstance(value, dict):
        return (
            isinstance(loaded, dict)
            and list(value) == list(loaded)
            and all(_same_plain(value[k], loaded[k]) for k in value)
        )
    if isinstance(value, list):
        return (
            isinstance(loaded, list)
            and len(value) == len(loaded)
            and all(_same_plain(a, b) for a, b in zip(value, loaded, strict=True))
        )
    if isinstance(value, float) and isinstance(loaded, float) and value != value:
        return loaded != loaded  # NaN
    return type(value) is type(loaded) and value == loaded


def _numpy_scalar(value: Any) -> Any:
    numpy = _module("numpy")
    if numpy is not None and isinstance(value, numpy.generic):
        return value.item()
    raise TypeError(type(value).__name__)


def _json_name(name: Any) -> Any:
    return name if name is None or isinstance(name, str | int | float | bool) else str(name)


def _module(name: str) -> Any:
    import sys

    return sys.modules.get(name)
