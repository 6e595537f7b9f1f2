"""Values across the kernel boundary, in typed files: JSON, parquet and PNG, never pickle.

One file per value, its format told by its suffix:

========================  ==========================================  ===========================
suffix                    value                                       read back as
========================  ==========================================  ===========================
``.json``                 numbers, strings, bools, None, and dicts    the same (tuples as lists,
                          and lists of them (numpy scalars too)       numpy scalars as Python's)
``.parquet``              a pandas DataFrame (index kept)             a pandas DataFrame
``.polars.parquet``       a polars DataFrame                          a polars DataFrame
``.png``                  a matplotlib Figure                         a matplotlib Figure showing
                                                                      the PNG, pixel for pixel
========================  ==========================================  ===========================

A figure comes back as a ``matplotlib.figure.Figure`` (not pyplot-managed) that draws the PNG
at its own size, so ``kedro_datasets.matplotlib.MatplotlibDataset`` saves it as it was recorded,
with no pickle. This module runs in the kernel as well as in Kedro's process: pandas, polars
and matplotlib are imported only when a value of theirs is met.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

from lab2prod.io import write_bytes_atomic

JSON_TYPES = "numbers, strings, bools, None, and dicts and lists of them"
SUFFIXES = (".polars.parquet", ".parquet", ".json", ".png")


class UnsupportedValue(TypeError):
    """A value that has no typed file format here; the message names its type."""


def write_value(directory: Path, name: str, value: Any, *, figures: bool = True) -> Path:
    """Write ``value`` to ``directory`` as ``name`` plus the suffix of its format.

    Any file of another format under the same name is removed, so the last write wins.

    Args:
        directory: Where to write.
        name: The value's name (becomes the file's stem).
        value: The value.
        figures: Whether matplotlib figures are accepted.

    Returns:
        The file written.

    Raises:
        UnsupportedValue: No format fits the value.
    """
    suffix, data = encode(value, figures=figures)
    path = directory / f"{name}{suffix}"
    write_bytes_atomic(path, data)
    for other in SUFFIXES:
        if other != suffix:
            (directory / f"{name}{other}").unlink(missing_ok=True)
    return path


def encode(value: Any, *, figures: bool = True) -> tuple[str, bytes]:
    """The file suffix and bytes for ``value``.

    Raises:
        UnsupportedValue: No format fits the value.
    """
    if _is(value, "pandas", "DataFrame"):
        buffer = io.BytesIO()
        value.to_parquet(buffer)
        return ".parquet", buffer.getvalue()
    if _is(value, "polars", "DataFrame"):
        buffer = io.BytesIO()
        value.write_parquet(buffer)
        return ".polars.parquet", buffer.getvalue()
    if _is(value, "matplotlib.figure", "Figure"):
        if not figures:
            raise UnsupportedValue("a matplotlib Figure is accepted as a record, not an input")
        buffer = io.BytesIO()
        value.savefig(buffer, format="png", bbox_inches="tight")
        return ".png", buffer.getvalue()
    if _is(value, "pandas", "Series"):
        raise UnsupportedValue("a pandas Series has no file format here")
    try:
        text = json.dumps(value, default=_json_default, indent=1)
    except (TypeError, ValueError) as exc:
        raise UnsupportedValue(str(exc)) from exc
    return ".json", text.encode("utf-8")


def read_value(path: str | Path) -> Any:
    """Read a value written by ``write_value``.

    Args:
        path: The file; its suffix says its format.

    Returns:
        The value (see the module's table for the types).

    Raises:
        ValueError: The suffix is not one of ``SUFFIXES``.
    """
    path = Path(path)
    name = path.name
    if name.endswith(".polars.parquet"):
        import polars as pl

        return pl.read_parquet(path)
    if name.endswith(".parquet"):
        import pandas as pd

        return pd.read_parquet(path)
    if name.endswith(".json"):
        return json.loads(path.read_text(encoding="utf-8"))
    if name.endswith(".png"):
        return _figure_from_png(path.read_bytes())
    raise ValueError(f"{path} has no known value format; expected one of {', '.join(SUFFIXES)}")


def split_name(path: Path) -> tuple[str, str] | None:
    """``(name, suffix)`` of a value file, or ``None`` for any other file."""
    for suffix in SUFFIXES:
        if path.name.endswith(suffix) and not path.name.startswith("."):
            return path.name[: -len(suffix)], suffix
    return None


def _figure_from_png(png: bytes) -> Any:
    from matplotlib.figure import Figure
    from matplotlib.image import imread

    pixels = imread(io.BytesIO(png), format="png")
    height, width = pixels.shape[:2]
    dpi = 100
    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    figure.figimage(pixels, resize=False)
    return figure


def _json_default(value: Any) -> Any:
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.generic):
        return value.item()
    raise TypeError(f"{type_name(value)} is not JSON")


def _is(value: Any, module: str, name: str) -> bool:
    # Look the class up only if its library is already imported: a value of that class cannot
    # exist otherwise, and importing pandas or matplotlib to find out would cost a second.
    loaded = sys.modules.get(module)
    cls = getattr(loaded, name, None) if loaded is not None else None
    return cls is not None and isinstance(value, cls)


def type_name(value: Any) -> str:
    """The value's type as a person would write it: ``int``, ``numpy.ndarray``."""
    cls = type(value)
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
