"""Datasets of a converted notebook: reading calls to catalog entries, results by type.

A notebook that reads ``pd.read_csv("../data/01_raw/orders.csv", sep=";")`` gets a catalog entry
of the matching kedro-datasets type with the call's arguments as ``load_args``; ``READERS`` is
the table, one line per reading function. A result of the pipeline is saved with the dataset its
statically inferred type calls for (``result_entry``): JSON for plain data, and for the rest
``lab2prod.datasets.ValueDataset``, which picks the format that gives the value back.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lab2prod.convert.effects import FIT_METHODS, dotted

PANDAS_FRAME = "pandas.DataFrame"
POLARS_FRAME = "polars.DataFrame"
POLARS_LAZY = "polars.LazyFrame"
NDARRAY = "numpy.ndarray"


@dataclass(frozen=True)
class Reader:
    """How a reading function maps to a kedro-datasets dataset.

    Attributes:
        dataset: The dataset's ``type:`` in the catalog.
        path_keywords: The keyword names the path may be given under.
        returns: The type of what the function returns.
        config: Extra keys of the entry (``file_format``, ``backend``).
        opened: Whether the path comes in an ``open(path)`` call (``json.load(open(p))``).
    """

    dataset: str
    path_keywords: tuple[str, ...]
    returns: str | None
    config: Mapping[str, str] = field(default_factory=dict)
    opened: bool = False


READERS: dict[str, Reader] = {
    "pandas.read_csv": Reader("pandas.CSVDataset", ("filepath_or_buffer",), PANDAS_FRAME),
    "pandas.read_parquet": Reader("pandas.ParquetDataset", ("path",), PANDAS_FRAME),
    "pandas.read_excel": Reader("pandas.ExcelDataset", ("io",), PANDAS_FRAME),
    "pandas.read_json": Reader("pandas.JSONDataset", ("path_or_buf",), PANDAS_FRAME),
    "pandas.read_feather": Reader("pandas.FeatherDataset", ("path",), PANDAS_FRAME),
    # Not polars.CSVDataset: its default load_args pass `rechunk`, which polars 2 removed.
    "polars.read_csv": Reader(
        "polars.EagerPolarsDataset", ("source",), POLARS_FRAME, {"file_format": "csv"}
    ),
    "polars.read_parquet": Reader(
        "polars.EagerPolarsDataset", ("source",), POLARS_FRAME, {"file_format": "parquet"}
    ),
    "polars.read_json": Reader(
        "polars.EagerPolarsDataset", ("source",), POLARS_FRAME, {"file_format": "json"}
    ),
    "polars.read_ipc": Reader(
        "polars.EagerPolarsDataset", ("source",), POLARS_FRAME, {"file_format": "ipc"}
    ),
    "polars.scan_parquet": Reader(
        "polars.LazyPolarsDataset", ("source",), POLARS_LAZY, {"file_format": "parquet"}
    ),
    "polars.scan_csv": Reader(
        "polars.LazyPolarsDataset", ("source",), POLARS_LAZY, {"file_format": "csv"}
    ),
    "pandas.read_pickle": Reader("pickle.PickleDataset", ("filepath_or_buffer",), None),
    "numpy.load": Reader("lab2prod.datasets.NumpyDataset", ("file",), NDARRAY),
    "joblib.load": Reader("pickle.PickleDataset", ("filename",), None, {"backend": "joblib"}),
    "json.load": Reader("json.JSONDataset", ("fp",), None, opened=True),
    "pickle.load": Reader("pickle.PickleDataset", ("file",), None, opened=True),
}
"""Reading functions with a literal path, by the dotted name the notebook's imports resolve to."""

_JSON_SCALARS = ("int", "float", "str", "bool")
_FRAME_METHODS = frozenset(
    {
        "assign", "copy", "drop", "dropna", "fillna", "filter", "merge", "join", "query",
        "rename", "reset_index", "sort_values", "sort_index", "astype", "head", "tail",
        "sample", "drop_duplicates", "set_index", "pivot_table", "pivot", "melt", "explode",
        "replace", "where", "mask", "round", "clip", "select_dtypes", "reindex", "nlargest",
        "nsmallest", "abs", "rank", "shift", "diff", "cumsum", "add_prefix", "add_suffix",
        "convert_dtypes", "infer_objects", "interpolate", "ffill", "bfill",
    }
)  # fmt: skip
_POLARS_METHODS = frozenset(
    {
        "with_columns", "filter", "select", "sort", "join", "unique", "drop", "rename", "head",
        "tail", "sample", "drop_nulls", "fill_null", "with_row_index", "pivot", "unpivot",
        "collect", "explode", "cast",
    }
)  # fmt: skip
_PANDAS_FRAME_FUNCTIONS = frozenset(
    {"DataFrame", "concat", "merge", "get_dummies", "pivot_table", "crosstab", "json_normalize"}
)
_NUMPY_ARRAY_FUNCTIONS = frozenset(
    {"array", "asarray", "zeros", "ones", "empty", "full", "arange", "linspace", "where",
     "concatenate", "stack", "vstack", "hstack", "column_stack", "log", "log1p", "exp", "sqrt",
     "clip", "unique", "sort", "cumsum", "diff"}
)  # fmt: skip
_AGGREGATIONS = frozenset(
    {"sum", "mean", "median", "min", "max", "count", "size", "nunique", "first", "last", "std",
     "var", "agg", "aggregate"}
)  # fmt: skip
_ESTIMATOR_MODULES = frozenset({"sklearn", "xgboost", "lightgbm", "catboost"})


@dataclass(frozen=True)
class LiteralRead:
    """A call that reads a file given by a literal path.

    Attributes:
        call: The call.
        function: Its dotted name, e.g. ``pandas.read_csv``.
        path: The path as written in the notebook.
        load_args: The other arguments, as Python values.
    """

    call: ast.Call
    function: str
    path: str
    load_args: dict[str, Any]


class ReadArgumentError(ValueError):
    """A reading call's arguments cannot go into a catalog entry; the message says why."""


def literal_read(call: ast.Call, modules: Mapping[str, str]) -> LiteralRead | None:
    """The literal-path read ``call`` is, or ``None`` when it is not one.

    Raises:
        ReadArgumentError: The call is a read with a literal path, but an argument is
            positional (beyond the path) or not a literal, so it cannot be carried over.
    """
    function = dotted(call.func, modules)
    reader = READERS.get(function or "")
    if reader is None:
        return None
    path_node = call.args[0] if call.args else None
    keywords = {k.arg: k.value for k in call.keywords if k.arg is not None}
    for name in reader.path_keywords:
        if name in keywords:
            path_node = keywords.pop(name)
    if reader.opened:
        path_node = _opened_for_reading(path_node)
    if not (isinstance(path_node, ast.Constant) and isinstance(path_node.value, str)):
        return None
    if len(call.args) > 1 or any(k.arg is None for k in call.keywords):
        raise ReadArgumentError(
            'pass the read\'s arguments by keyword (`sep=";"`), not by position'
        )
    load_args = {}
    for name, value in keywords.items():
        try:
            load_args[name] = ast.literal_eval(value)
        except ValueError as exc:
            raise ReadArgumentError(
                f"its argument `{name}={ast.unparse(value)}` is not a literal, so it cannot go "
                "into the catalog entry's load_args; write the value out"
            ) from exc
    assert function is not None
    return LiteralRead(call, function, path_node.value, load_args)


def _opened_for_reading(node: ast.expr | None) -> ast.expr | None:
    """The path node of ``open(path)`` / ``open(path, "rb")``; ``None`` for anything else."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return None
    if node.func.id != "open" or not node.args:
        return None
    mode = node.args[1] if len(node.args) > 1 else None
    for keyword in node.keywords:
        if keyword.arg == "mode":
            mode = keyword.value
    if mode is not None and not (
        isinstance(mode, ast.Constant) and mode.value in ("r", "rb", "rt")
    ):
        return None
    return node.args[0]


def read_entry(read: LiteralRead, filepath: str) -> dict[str, Any]:
    """The catalog entry of a literal read, with ``filepath`` relative to the project root."""
    reader = READERS[read.function]
    entry: dict[str, Any] = {"type": reader.dataset, "filepath": filepath, **reader.config}
    if read.load_args:
        entry["load_args"] = read.load_args
    return entry


def read_type(read: LiteralRead) -> str | None:
    """What the read returns, e.g. ``pandas.DataFrame``."""
    return READERS[read.function].returns


def result_entry(name: str, value_type: str | None) -> dict[str, Any]:
    """The catalog entry that saves a result of the pipeline, chosen by its type.

    Plain data whose type the code makes plain (``float(...)``, ``len(...)``, literals, lists
    and dicts of them) goes to JSON and a polars DataFrame to parquet, with kedro-datasets;
    anything else (pandas objects, arrays, models, values of unknown type) to
    ``lab2prod.datasets.ValueDataset``, which saves it in the most specific format that
    loads it back equal (parquet, ``.npy``, JSON) and pickles only what none of them keeps.

    Args:
        name: The file's path under its layer folder, without suffix (``orders_report/summary``).
        value_type: The value's statically inferred type, or ``None``.
    """
    if value_type == POLARS_FRAME:
        return {
            "type": "polars.EagerPolarsDataset",
            "file_format": "parquet",
            "filepath": f"data/03_primary/{name}.parquet",
        }
    if is_json_type(value_type):
        return {"type": "json.JSONDataset", "filepath": f"data/08_reporting/{name}.json"}
    layer = "03_primary" if value_type in (PANDAS_FRAME, NDARRAY) else "06_models"
    return {"type": "lab2prod.datasets.ValueDataset", "filepath": f"data/{layer}/{name}"}


def is_json_type(value_type: str | None) -> bool:
    """Whether values of the type are plain JSON: numbers, strings, bools, lists and dicts."""
    if value_type is None:
        return False
    if value_type in _JSON_SCALARS:
        return True
    if " | " in value_type and "[" not in value_type:
        return all(is_json_type(part) for part in value_type.split(" | "))
    for container in ("list[", "dict[str, "):
        if value_type.startswith(container) and value_type.endswith("]"):
            return is_json_type(value_type[len(container) : -1])
    return False


def infer_type(expr: ast.expr, types: Mapping[str, str], modules: Mapping[str, str]) -> str | None:
    """The type of an expression's value, when the code makes it plain, else ``None``.

    Args:
        expr: The expression.
        types: The known types of names at this point.
        modules: Import-bound names to what they import.

    Returns:
        A type such as ``pandas.DataFrame``, ``float``, ``list[str]`` or a dotted class name.
    """
    if isinstance(expr, ast.Constant):
        value = expr.value
        return type(value).__name__ if isinstance(value, bool | int | float | str) else None
    if isinstance(expr, ast.List | ast.Tuple | ast.Set):
        kinds = {infer_type(e, types, modules) for e in expr.elts}
        container = {ast.List: "list", ast.Tuple: "tuple", ast.Set: "set"}[type(expr)]
        if len(kinds) == 1 and None not in kinds and container == "list":
            return f"list[{kinds.pop()}]"
        return container
    if isinstance(expr, ast.Dict):
        keys = {infer_type(k, types, modules) for k in expr.keys if k is not None}
        values = [infer_type(v, types, modules) for v in expr.values]
        if keys == {"str"} and values and None not in values:
            return f"dict[str, {' | '.join(sorted(set(values)))}]"  # type: ignore[arg-type]
        return "dict"
    if isinstance(expr, ast.ListComp):
        element = infer_type(expr.elt, {}, modules)
        return f"list[{element}]" if element else "list"
    if isinstance(expr, ast.DictComp):
        key, value = infer_type(expr.key, {}, modules), infer_type(expr.value, {}, modules)
        return f"dict[str, {value}]" if key == "str" and value else "dict"
    if isinstance(expr, ast.Name):
        return types.get(expr.id)
    if isinstance(expr, ast.Subscript):
        if types.get(_root(expr)) == PANDAS_FRAME and isinstance(
            expr.slice, ast.List | ast.Compare | ast.BoolOp
        ):
            return PANDAS_FRAME if isinstance(expr.value, ast.Name) else None
        return None
    if isinstance(expr, ast.Attribute):
        return NDARRAY if expr.attr == "values" and types.get(_root(expr)) else None
    if isinstance(expr, ast.Call):
        return _call_type(expr, types, modules)
    return None


def _call_type(call: ast.Call, types: Mapping[str, str], modules: Mapping[str, str]) -> str | None:
    function = dotted(call.func, modules)
    if function is not None:
        parts = function.split(".")
        if function in READERS:
            return READERS[function].returns
        if parts[0] == "pandas" and parts[-1] in _PANDAS_FRAME_FUNCTIONS:
            return PANDAS_FRAME
        if parts[0] == "polars" and parts[-1] in ("DataFrame", "concat", "from_pandas"):
            return POLARS_FRAME
        if parts[0] == "numpy" and parts[-1] in _NUMPY_ARRAY_FUNCTIONS:
            return NDARRAY
        if parts[0] in _ESTIMATOR_MODULES and parts[-1][:1].isupper():
            return function
        return None
    if isinstance(call.func, ast.Name):
        return {"len": "int", "int": "int", "float": "float", "str": "str", "bool": "bool"}.get(
            call.func.id
        )
    if not isinstance(call.func, ast.Attribute):
        return None
    method = call.func.attr
    receiver = infer_type(call.func.value, types, modules)
    root_type = infer_type(_base(call.func, modules), types, modules)
    if method in FIT_METHODS - {"fit_transform", "fit_predict"}:
        return receiver  # fit returns the estimator itself
    if method == "to_numpy":
        return NDARRAY
    if method == "to_pandas" or method == "to_frame":
        return PANDAS_FRAME
    if method == "to_polars":
        return POLARS_FRAME
    if receiver == PANDAS_FRAME and method in _FRAME_METHODS:
        return PANDAS_FRAME
    if receiver in (POLARS_FRAME, POLARS_LAZY) and method in _POLARS_METHODS:
        return POLARS_FRAME if method == "collect" else receiver
    grouped = {"groupby", "group_by"} & set(_chain(call.func))
    if grouped and method in ("agg", "aggregate"):
        named = bool(call.keywords) or any(isinstance(a, ast.Dict | ast.List) for a in call.args)
        if root_type == PANDAS_FRAME and named:
            return PANDAS_FRAME
        if root_type in (POLARS_FRAME, POLARS_LAZY):
            return root_type
    if grouped and root_type == PANDAS_FRAME and method in _AGGREGATIONS and _as_index_false(call):
        return PANDAS_FRAME
    dropped = any(
        k.arg == "drop" and isinstance(k.value, ast.Constant) and k.value.value
        for k in call.keywords
    )
    if method == "reset_index" and root_type == PANDAS_FRAME and not dropped:
        return PANDAS_FRAME
    return None


def _as_index_false(call: ast.Call) -> bool:
    """Whether the chain's ``groupby`` has ``as_index=False`` (aggregations give frames)."""
    for node in ast.walk(call):
        func = node.func if isinstance(node, ast.Call) else None
        if isinstance(func, ast.Attribute) and func.attr == "groupby":
            return any(
                k.arg == "as_index" and isinstance(k.value, ast.Constant) and k.value.value is False
                for k in node.keywords  # type: ignore[attr-defined]
            )
    return False


def _base(expr: ast.expr, modules: Mapping[str, str]) -> ast.expr:
    """The start of a method chain: a name, or a call of a module's function."""
    while isinstance(expr, ast.Attribute | ast.Subscript | ast.Call):
        if isinstance(expr, ast.Call) and dotted(expr.func, modules) is not None:
            return expr
        expr = expr.func if isinstance(expr, ast.Call) else expr.value
    return expr


def _root(expr: ast.expr) -> str:
    while isinstance(expr, ast.Attribute | ast.Subscript | ast.Call):
        expr = expr.func if isinstance(expr, ast.Call) else expr.value
    return expr.id if isinstance(expr, ast.Name) else ""


def _chain(expr: ast.expr) -> list[str]:
    found = []
    while isinstance(expr, ast.Attribute | ast.Subscript | ast.Call):
        if isinstance(expr, ast.Attribute):
            found.append(expr.attr)
        expr = expr.func if isinstance(expr, ast.Call) else expr.value
    return found
