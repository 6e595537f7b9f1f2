"""Infer a pandera ``DataFrameModel`` module from data: the first draft of a data contract.

The text is laid out the way ``ruff format`` would lay it out at any line length of 88 or more:
a field that fits on one 88-column line stays on it, a longer one is exploded one argument per
line with a trailing comma, which ruff keeps exploded.
"""

from __future__ import annotations

import importlib
import keyword
import re
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from lab2prod.contracts.vocabulary import ColumnKind
from lab2prod.errors import ContractError

_LINE_LENGTH = 88
_SIGNIFICANT_DIGITS = 6
# Names the generated module binds: a class or attribute named so would shadow them.
_MODULE_NAMES = frozenset({"Series", "pa", "pd", "pl", "date", "datetime", "ZoneInfo"})
_THIRD_PARTY = frozenset({"import pandas as pd", "import polars as pl"})


@dataclass
class _ColumnProfile:
    """What the data showed about one column, as Python source fragments."""

    name: str
    annotation: str
    nullable: bool
    kind: ColumnKind = ColumnKind.OTHER
    ge: str | None = None
    le: str | None = None
    isin: list[str] | None = None
    unique: bool = False
    n_distinct: int = 0  # counted for strings, categories and integers only
    categories: list[Any] = field(default_factory=list)  # when there are few


def model_class_name(dataset_name: str) -> str:
    """The CamelCase class name of the contract of a catalog dataset.

    Args:
        dataset_name: A catalog name such as ``raw_transactions``, ``model_input@pandas`` (the
            transcoding suffix is dropped) or ``namespace.features``.

    Returns:
        A valid Python identifier: ``RawTransactions``, ``ModelInput``, ``NamespaceFeatures``.
    """
    parts = re.split(r"[\W_]+", dataset_name.split("@", 1)[0])
    name = "".join(part[:1].upper() + part[1:] for part in parts)
    name = "".join(char for char in name if f"_{char}".isidentifier())
    if not name[:1].isalpha():
        name = f"Dataset{name}"
    return f"{name}Contract" if keyword.iskeyword(name) or name in _MODULE_NAMES else name


def infer_contract(
    data: Any,
    *,
    class_name: str,
    dataset_name: str,
    max_categories: int = 30,
    min_key_rows: int = 10,
) -> str:
    """The source of a module defining a pandera ``DataFrameModel`` that ``data`` satisfies.

    Each column gets its dtype, ``nullable`` from the nulls seen, ``ge``/``le`` from the observed
    range of numbers and datetimes (floats rounded outwards to 6 significant digits; none for a
    polars float column holding NaN, which pandera counts as null but ``le`` rejects), ``isin``
    for categoricals and for strings with few distinct values, and ``unique`` for keys. The model
    is ``strict`` and does not coerce.

    Args:
        data: A pandas or polars DataFrame, or a polars LazyFrame (collected).
        class_name: Name of the model class.
        dataset_name: Catalog name of the dataset, quoted in the module docstring.
        max_categories: A string column gets ``isin`` when it has at most this many distinct
            values and fewer distinct values than half its rows (categoricals: any share).
        min_key_rows: A string column whose values are all distinct is taken as a key (``unique``)
            from this many rows. Other columns need a key's name: ``id``, ``*_id``, ``*Id``.

    Returns:
        The module's text, ending with a newline; the same data always gives the same text.

    Raises:
        ContractError: ``data`` is of an unsupported type, has no rows, or has a column of an
            unsupported dtype or name; or ``class_name`` cannot name the class.
    """
    if (
        keyword.iskeyword(class_name)
        or not class_name.isidentifier()
        or class_name in _MODULE_NAMES
    ):
        raise ContractError(
            f"Cannot name the contract class {class_name!r}: use a Python identifier that is not "
            f"a keyword nor one of {', '.join(sorted(_MODULE_NAMES))}, e.g. "
            f"{model_class_name(dataset_name)!r}."
        )
    backend, frame = _backend_and_frame(data, dataset_name)
    if len(frame) == 0:
        raise ContractError(
            f"Cannot infer a contract for '{dataset_name}' from 0 rows: ranges, nullability and "
            "categories are read from the data. Produce the dataset first (kedro run), point "
            "its catalog entry at a non-empty sample, or write the model by hand."
        )
    names = list(frame.columns)
    for name in names:
        if not isinstance(name, str) or names.count(name) > 1:
            raise ContractError(
                f"Cannot infer a contract for '{dataset_name}': column names must be distinct "
                f"strings, got {name!r}. Rename the columns before saving the dataset."
            )
    imports: set[str] = set()
    profile = _pandas_column if backend == "pandas" else _polars_column
    columns = [profile(frame[name], imports, dataset_name, max_categories) for name in names]
    for column in columns:
        _set_categories_and_key(column, len(frame), max_categories, min_key_rows)
    return _render(backend, columns, imports, class_name, dataset_name, len(frame))


def _backend_and_frame(data: Any, dataset_name: str) -> tuple[str, Any]:
    # Look the libraries up rather than import them: data of a library comes with it loaded.
    pd, pl = sys.modules.get("pandas"), sys.modules.get("polars")
    if pd is not None and isinstance(data, pd.DataFrame):
        return "pandas", data
    if pl is not None and isinstance(data, pl.LazyFrame):
        return "polars", data.collect()
    if pl is not None and isinstance(data, pl.DataFrame):
        return "polars", data
    kind = f"{type(data).__module__}.{type(data).__qualname__}"
    raise ContractError(
        f"Cannot infer a contract for '{dataset_name}' from a {kind}: expected a pandas "
        "DataFrame, a polars DataFrame or a polars LazyFrame. Load the dataset with a pandas "
        "or polars dataset type."
    )


def _pandas_column(
    series: Any, imports: set[str], dataset_name: str, max_categories: int
) -> _ColumnProfile:
    import pandas as pd

    dtype, values = series.dtype, series.dropna()
    column = _ColumnProfile(name=series.name, annotation="", nullable=bool(series.isna().any()))
    if isinstance(dtype, pd.StringDtype):
        # pandas 3's default ``str`` dtype is pyarrow-backed; pandera calls that ``str``.
        python = 'pd.StringDtype("python")'
        column.kind, column.annotation = (
            ColumnKind.STR,
            "str" if dtype.storage == "pyarrow" else python,
        )
    elif isinstance(dtype, pd.CategoricalDtype):
        column.kind, column.annotation = ColumnKind.CATEGORY, "pd.CategoricalDtype"
    elif isinstance(dtype, pd.DatetimeTZDtype):
        if pd.DatetimeTZDtype(dtype.unit, str(dtype.tz)) != dtype:
            _unsupported(dataset_name, column.name, f"{dtype} (its time zone has no name)")
        column.kind = ColumnKind.DATETIME
        column.annotation = f"pd.DatetimeTZDtype({_str(dtype.unit)}, {_str(str(dtype.tz))})"
    elif pd.api.types.is_datetime64_dtype(dtype):
        # pandera 0.35 checks no unit for tz-naive datetimes: us, ns, ms... all pass.
        column.kind, column.annotation = ColumnKind.DATETIME, "pd.Timestamp"
    elif isinstance(dtype, pd.BooleanDtype) or dtype.kind == "b":
        column.kind = ColumnKind.BOOL
        column.annotation = "pd.BooleanDtype" if isinstance(dtype, pd.BooleanDtype) else "bool"
    elif dtype.kind in "iuf":
        column.kind = ColumnKind.FLOAT if dtype.kind == "f" else ColumnKind.INT
        if isinstance(dtype, pd.api.extensions.ExtensionDtype):  # Int64, Float64, ...
            column.annotation = f"pd.{type(dtype).__name__}"
        else:  # int64 -> int, int32 -> pa.Int32, uint8 -> pa.UInt8, float32 -> pa.Float32
            pandera = dtype.name.replace("uint", "UInt").replace("int", "Int")
            column.annotation = {"int64": "int", "float64": "float"}.get(
                dtype.name, f"pa.{pandera[0].upper()}{pandera[1:]}"
            )
    elif pd.api.types.is_object_dtype(dtype):
        column.annotation = "object"
    else:
        _unsupported(dataset_name, column.name, str(dtype))
    if column.kind == ColumnKind.DATETIME and len(values):
        column.ge, column.le = _pandas_timestamp(values.min()), _pandas_timestamp(values.max())
    elif column.kind in (ColumnKind.INT, ColumnKind.FLOAT) and len(values):
        _set_range(column, values.min(), values.max())
    if column.kind in (ColumnKind.STR, ColumnKind.CATEGORY, ColumnKind.INT):
        column.n_distinct = values.nunique()
        if column.kind != ColumnKind.INT and column.n_distinct <= max_categories:
            column.categories = values.unique().tolist()
    if "pd." in column.annotation + (column.ge or ""):
        imports.add("import pandas as pd")
    column.annotation = f"Series[{column.annotation}]"
    return column


def _polars_column(
    series: Any, imports: set[str], dataset_name: str, max_categories: int
) -> _ColumnProfile:
    import polars as pl

    dtype, values = series.dtype, series.drop_nulls()
    column = _ColumnProfile(series.name, annotation=f"pl.{dtype}", nullable=series.null_count() > 0)
    if dtype == pl.String:
        column.kind = ColumnKind.STR
    elif isinstance(dtype, pl.Enum):
        column.kind, values = ColumnKind.CATEGORY, values.cast(pl.String)
        column.annotation = f"pl.Enum([{', '.join(map(_str, dtype.categories.to_list()))}])"
    elif dtype == pl.Categorical:
        column.kind, values = ColumnKind.CATEGORY, values.cast(pl.String)
    elif isinstance(dtype, pl.Datetime):
        zone = f", {_str(dtype.time_zone)}" if dtype.time_zone else ""
        column.kind, column.annotation = (
            ColumnKind.DATETIME,
            f"pl.Datetime({_str(dtype.time_unit)}{zone})",
        )
    elif dtype in (pl.Date, pl.Boolean):
        column.kind = ColumnKind.DATE if dtype == pl.Date else ColumnKind.BOOL
    elif dtype.is_integer() or dtype.is_float():
        column.kind = ColumnKind.INT if dtype.is_integer() else ColumnKind.FLOAT
    else:
        _unsupported(dataset_name, column.name, str(dtype))
    if column.kind in (ColumnKind.DATETIME, ColumnKind.DATE) and len(values):
        low, high = values.min(), values.max()
        if column.kind == ColumnKind.DATETIME and dtype.time_unit == "ns":
            # Python datetimes stop at microseconds: round the upper bound up.
            high += timedelta(microseconds=bool(values.cast(pl.Int64).max() % 1000))
        zone = getattr(dtype, "time_zone", None)
        column.ge, column.le = _python_temporal(low, zone), _python_temporal(high, zone)
        imports.add(f"from datetime import {column.kind}")  # date or datetime
        imports.update(["from zoneinfo import ZoneInfo"] if zone else [])
    elif column.kind == ColumnKind.FLOAT and values.is_nan().any():
        column.nullable = True  # pandera counts NaN as null, and NaN fails ``le``: no range.
    elif column.kind in (ColumnKind.INT, ColumnKind.FLOAT) and len(values):
        _set_range(column, values.min(), values.max())
    if column.kind in (ColumnKind.STR, ColumnKind.CATEGORY, ColumnKind.INT):
        column.n_distinct = values.n_unique()
        if column.kind != ColumnKind.INT and column.n_distinct <= max_categories:
            column.categories = values.unique().to_list()
    imports.add("import polars as pl")
    return column


def _unsupported(dataset_name: str, column: str, dtype: str) -> None:
    raise ContractError(
        f"Cannot infer a contract for '{dataset_name}': column '{column}' has dtype {dtype}, "
        "which lab2prod does not infer. Cast or drop the column before saving the dataset, or "
        "write the model by hand."
    )


def _set_range(column: _ColumnProfile, low: Any, high: Any) -> None:
    if column.kind == ColumnKind.INT:
        column.ge, column.le = str(int(low)), str(int(high))
        return
    low, high = float(low), float(high)  # A bound at infinity says nothing: leave it out.
    column.ge = _float(low, up=False) if abs(low) != float("inf") else None
    column.le = _float(high, up=True) if abs(high) != float("inf") else None


def _set_categories_and_key(
    column: _ColumnProfile, rows: int, max_categories: int, min_key_rows: int
) -> None:
    count = column.n_distinct
    if count <= max_categories and (
        column.kind == ColumnKind.CATEGORY or (column.kind == ColumnKind.STR and count < rows / 2)
    ):
        column.isin = [_literal(value) for value in sorted(column.categories, key=_sort_key)]
    if column.nullable or count != rows or column.kind not in (ColumnKind.STR, ColumnKind.INT):
        return
    key_name = column.name.lower() == "id" or re.search(r"(_id|Id|ID)$", column.name) is not None
    column.unique = key_name or (column.kind == ColumnKind.STR and rows >= min_key_rows)


def _render(
    backend: str,
    columns: list[_ColumnProfile],
    imports: set[str],
    class_name: str,
    dataset_name: str,
    rows: int,
) -> str:
    reserved = _reserved_attributes(backend)
    # A column keeps its name as attribute when it can and the line still fits; else an alias.
    own = {
        c.name
        for c in columns
        if _plain(c.name, reserved) and len(_head(c.name, c.annotation)) <= _LINE_LENGTH
    }
    taken = reserved | own
    body: list[str] = []
    for column in columns:
        budget = _LINE_LENGTH - len(_head("", column.annotation)) - 3
        attribute = column.name if column.name in own else _attribute(column.name, taken, budget)
        taken.add(attribute)
        body.extend(_field(attribute, column))
    modules: dict[str, list[str]] = {}  # ``from datetime import date, datetime``, as isort has it
    for line in sorted(imports - _THIRD_PARTY):
        module, _, name = line.removeprefix("from ").partition(" import ")
        modules.setdefault(module, []).append(name)
    stdlib = [f"from {module} import {', '.join(names)}" for module, names in modules.items()]
    third_party = sorted({*imports & _THIRD_PARTY, f"import pandera.{backend} as pa"})
    if backend == "pandas":
        third_party.append("from pandera.typing import Series")
    name = dataset_name.replace("\\", "/").replace('"', "'")
    lines = [
        f'"""Data contract of the catalog dataset ``{name}`` ({backend}).',
        "",
        f"Generated by ``kedro contract infer`` from {rows:,} rows. The dtypes, nullability,",
        "ranges and categories below are what those rows showed, not yet what the data must",
        "be: review and edit them (widen ranges the sample happened to set, drop categories",
        "that may grow), then name the model on the catalog entry with ``validator:``.",
        '"""',
        "",
        *stdlib,
        *([""] if stdlib else []),
        *third_party,
        "",
        "",
        f"class {class_name}(pa.DataFrameModel):",
        f'    """Columns of ``{name}``."""',
        "",
        *body,
        "",
        "    class Config:",
        "        strict = True",
        "        coerce = False",
    ]
    return "\n".join(lines) + "\n"


def _reserved_attributes(backend: str) -> set[str]:
    model = importlib.import_module(f"pandera.{backend}").DataFrameModel
    return {name for name in dir(model) if not name.startswith("__")} | _MODULE_NAMES


def _plain(name: str, reserved: set[str]) -> bool:
    """Whether ``name`` can name an attribute (or the class) as it is."""
    return (
        name.isidentifier()
        and not keyword.iskeyword(name)
        and not name.startswith("_")
        and name not in reserved
    )


def _attribute(column: str, taken: set[str], max_length: int) -> str:
    """A free attribute name for a column whose own name cannot be one (it gets an alias)."""
    base = re.sub(r"\W+", "_", column).strip("_").lower()
    base = base if base[:1].isalpha() else f"column_{base}".rstrip("_")
    base = base[: max(max_length, 8)].rstrip("_")
    candidates = (base, f"{base}_", *(f"{base}_{n}" for n in range(2, len(taken) + 3)))
    return next(c for c in candidates if c not in taken and not keyword.iskeyword(c))


def _head(attribute: str, annotation: str) -> str:
    return f"    {attribute}: {annotation} = pa.Field("


def _field(attribute: str, column: _ColumnProfile) -> list[str]:
    args = [f"alias={_str(column.name)}"] if attribute != column.name else []
    args += [f"{key}={value}" for key, value in (("ge", column.ge), ("le", column.le)) if value]
    if column.isin is not None:
        args.append(f"isin=[{', '.join(column.isin)}]")
    args += ["unique=True"] * column.unique + [f"nullable={column.nullable}"]
    head = _head(attribute, column.annotation)
    if len(head) + len(", ".join(args)) + 1 <= _LINE_LENGTH:
        return [f"{head}{', '.join(args)})"]
    lines = [head]
    for arg in args:
        if arg.startswith("isin=[") and len(f"        {arg},") > _LINE_LENGTH:
            lines += ["        isin=[", *(f"            {item}," for item in column.isin or ())]
            lines.append("        ],")
        else:
            lines.append(f"        {arg},")
    return [*lines, "    )"]


def _float(value: float, *, up: bool) -> str:
    """``value`` rounded away from the data to a few significant digits, as a literal."""
    exact = Decimal(repr(value))
    if len(exact.as_tuple().digits) > _SIGNIFICANT_DIGITS:
        quantum = Decimal(1).scaleb(exact.adjusted() - _SIGNIFICANT_DIGITS + 1)
        value = float(exact.quantize(quantum, rounding=ROUND_CEILING if up else ROUND_FLOOR))
    return repr(value).replace("e+", "e")  # ruff format writes 1e20, not 1e+20


def _pandas_timestamp(value: Any) -> str:
    wall = _str(value.tz_localize(None).isoformat(sep=" ").removesuffix(" 00:00:00"))
    return (
        f"pd.Timestamp({wall})"
        if value.tz is None
        else f"pd.Timestamp({wall}, tz={_str(str(value.tz))})"
    )


def _python_temporal(value: Any, zone: str | None) -> str:
    if not hasattr(value, "hour"):
        return f"date({value.year}, {value.month}, {value.day})"
    parts = [value.year, value.month, value.day, value.hour, value.minute, value.second]
    parts.append(value.microsecond)
    while len(parts) > 3 and not parts[-1]:
        parts.pop()
    args = ", ".join(map(str, parts))
    return f"datetime({args}, tzinfo=ZoneInfo({_str(zone)}))" if zone else f"datetime({args})"


def _literal(value: Any) -> str:
    return _str(value) if isinstance(value, str) else repr(value)


def _sort_key(value: Any) -> tuple[str, Any]:
    return type(value).__name__, value


def _str(text: str) -> str:
    """A string literal quoted as ruff format quotes it: double quotes unless they cost more."""
    quote = "'" if text.count('"') > text.count("'") else '"'
    escaped = (
        f"\\{char}" if char in ("\\", quote) else char if char.isprintable() else repr(char)[1:-1]
        for char in text
    )
    return f"{quote}{''.join(escaped)}{quote}"
