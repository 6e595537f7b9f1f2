"""``record()``: what a notebook hands back to the pipeline that ran it, and reading it back.

In a notebook::

    from lab2prod import record

    record("pr_auc", pr_auc)          # a number, string, bool, None, dict or list: JSON
    record("scores", scores_df)       # a pandas or polars DataFrame: parquet
    record("pr_curve", fig)           # a matplotlib Figure: PNG

When lab2prod runs the notebook, the cell it injects calls ``record_to(directory)`` and each
``record()`` writes a file there (see ``lab2prod.execute.values``); ``read_records`` reads them
back in Kedro's process. Run by hand in JupyterLab, ``record()`` only checks the value, so the
notebook fails in the lab, not in the pipeline, when a value cannot be recorded.
"""

from __future__ import annotations

import keyword
from pathlib import Path
from typing import Any

from lab2prod.errors import RecordError
from lab2prod.execute import values

_record_dir: Path | None = None


def record(name: str, value: Any) -> None:
    """Hand ``value`` back, under ``name``, to the pipeline that runs this notebook.

    Recording a name again replaces the earlier value.

    Args:
        name: A Python identifier: a notebook node maps it to a catalog dataset.
        value: A number, string, bool, None, or a dict or list of those (kept as JSON); a pandas
            or polars DataFrame (parquet); or a matplotlib Figure (PNG).

    Raises:
        RecordError: ``name`` is not an identifier, or ``value`` is of another type.
    """
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise RecordError(
            f"record({name!r}, ...): the name must be a Python identifier such as 'pr_auc', "
            "because a notebook node maps it to a dataset."
        )
    try:
        if _record_dir is None:
            values.encode(value)
        else:
            values.write_value(_record_dir, name, value)
    except values.UnsupportedValue as exc:
        raise RecordError(
            f"record({name!r}, ...) cannot keep a value of type {values.type_name(value)} "
            f"({exc}). Record "
            f"{values.JSON_TYPES} (kept as JSON), a pandas or polars DataFrame (parquet), or a "
            "matplotlib Figure (PNG); convert the value first, e.g. array.tolist() or "
            "series.to_frame()."
        ) from exc


def record_to(directory: str | Path | None) -> None:
    """Make ``record()`` write to ``directory`` (``None``: only check values).

    Called by the cell lab2prod injects into the notebooks it runs.
    """
    global _record_dir
    _record_dir = None if directory is None else Path(directory)


def read_records(directory: str | Path) -> dict[str, Any]:
    """Every value recorded into ``directory``, by name.

    Args:
        directory: The directory given to ``record_to`` in the kernel.

    Returns:
        Name to value: JSON values as Python values, DataFrames as DataFrames of the same
        library, figures as matplotlib Figures.
    """
    records = {}
    for path in sorted(Path(directory).iterdir()):
        named = values.split_name(path)
        if named is not None:
            records[named[0]] = values.read_value(path)
    return records
