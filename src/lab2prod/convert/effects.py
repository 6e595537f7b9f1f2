"""How a call affects things: pure, display, plot, file write, or an effect (and on what).

The tables are a model of common notebook code, not of Python: a method call whose result is
used is pure unless the method is known to change its receiver (``append``, ``fit``, anything
with ``inplace=True``); one whose result is unused (a bare ``obj.method(...)``) changes its
receiver unless the method is known pure (``PURE_METHODS``: ``head``, ``describe``, ...) or the
call displays, plots or writes. A function of a numeric library is pure unless it reads, writes
or seeds; anything else (notebook functions, unknown callables) is an effect, kept in the
generated code.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Mapping

MUTATING_METHODS = frozenset(
    {
        # list, dict, set, numpy arrays, pandas in place
        "append", "extend", "insert", "remove", "pop", "popitem", "clear", "update",
        "setdefault", "add", "discard", "sort", "reverse", "resize", "fill", "put",
        # scikit-learn estimators
        "fit", "partial_fit", "fit_transform", "fit_predict", "set_params", "set_output",
        # numpy random generators: drawing advances their state
        "normal", "uniform", "integers", "random", "choice", "shuffle", "permutation",
        "standard_normal", "binomial", "poisson", "exponential", "lognormal", "beta", "gamma",
        "multivariate_normal", "bytes", "permuted",
        # numpy RandomState (legacy): drawing advances its state too
        "randint", "rand", "randn", "random_sample", "random_integers", "ranf", "seed",
        "set_state", "tomaxint", "standard_exponential", "standard_gamma", "standard_t",
        "standard_cauchy", "chisquare", "dirichlet", "geometric", "gumbel", "hypergeometric",
        "laplace", "logistic", "logseries", "multinomial", "negative_binomial",
        "noncentral_chisquare", "noncentral_f", "pareto", "rayleigh", "triangular",
        "vonmises", "wald", "weibull", "zipf",
    }
)  # fmt: skip
"""Methods that change the object they are called on (so its name gets a new dataset)."""

ARGUMENT_MUTATORS = frozenset(
    {
        "random.shuffle", "numpy.random.shuffle", "heapq.heappush", "heapq.heappop",
        "heapq.heapify", "heapq.heappushpop", "heapq.heapreplace", "bisect.insort",
        "bisect.insort_left", "bisect.insort_right", "numpy.copyto", "numpy.put",
        "numpy.place", "numpy.putmask", "numpy.fill_diagonal",
    }
)  # fmt: skip
"""Functions that change their first argument in place (``random.shuffle(cards)``)."""
ARGUMENT_MUTATING_METHODS = frozenset({"shuffle"})
"""Methods that change their first argument: ``rng.shuffle(indices)`` (numpy generators)."""

FIT_METHODS = frozenset({"fit", "partial_fit", "fit_transform", "fit_predict"})
WRITE_METHODS = frozenset(
    {
        "to_csv", "to_parquet", "to_excel", "to_json", "to_pickle", "to_feather", "to_hdf",
        "to_sql", "to_html", "to_latex", "to_markdown", "to_xml", "to_stata", "write_csv",
        "write_parquet", "write_json", "write_ndjson", "write_excel", "write_ipc",
        "write_database", "savefig", "save",
    }
)  # fmt: skip
"""Methods that write a file: dropped from nodes (a pipeline saves through its catalog)."""

PURE_METHODS = frozenset(
    {
        # pandas and numpy: looking at data
        "head", "tail", "describe", "info", "sample", "value_counts", "nunique", "unique",
        "isna", "isnull", "notna", "notnull", "sum", "mean", "median", "std", "var", "sem",
        "min", "max", "count", "corr", "cov", "corrwith", "quantile", "mode", "skew", "kurt",
        "kurtosis", "prod", "cumsum", "cumprod", "cummax", "cummin", "idxmax", "idxmin",
        "argmax", "argmin", "nlargest", "nsmallest", "abs", "round", "clip", "diff",
        "pct_change", "shift", "rank", "all", "any", "equals", "isin", "between", "duplicated",
        "memory_usage", "groupby", "agg", "aggregate", "rolling", "expanding", "resample",
        "pivot", "pivot_table", "melt", "stack", "unstack", "transpose", "explode", "merge",
        "join", "concat", "query", "filter", "select_dtypes", "drop", "dropna",
        "drop_duplicates", "fillna", "interpolate", "rename", "reset_index", "set_index",
        "sort_values", "sort_index", "reindex", "astype", "copy", "assign", "where", "mask",
        "get", "items", "keys", "values", "iterrows", "itertuples", "to_string", "to_dict",
        "to_numpy", "to_list", "tolist", "to_frame", "item", "reshape", "ravel", "flatten",
        "dot", "nonzero", "squeeze", "view", "first", "last", "nth", "size",
        # scikit-learn and statsmodels: using a fitted model
        "predict", "predict_proba", "predict_log_proba", "decision_function", "score",
        "score_samples", "transform", "inverse_transform", "get_params", "get_feature_names_out",
        "summary", "summary2", "conf_int",
        # strings and containers
        "format", "split", "rsplit", "strip", "lstrip", "rstrip", "upper", "lower", "title",
        "replace", "startswith", "endswith", "find", "index", "encode", "decode",
        # showing
        "show", "display", "render", "_repr_html_",
    }
)  # fmt: skip
"""Methods known not to change their receiver: a bare call of one only shows its result.

A bare call (its result unused) of any other method of a notebook variable is kept for its
effect, and its receiver counts as changed (``model.conformalize(X, y)``, ``G.add_edge(1, 2)``,
``params["x"].set(min=0)``).
"""

PLOT_MODULES = frozenset({"matplotlib", "seaborn", "plotly", "altair", "bokeh", "plotnine"})
PLOT_METHODS = frozenset({"plot", "hist", "boxplot", "scatter_matrix", "style"})
DISPLAY_MODULES = frozenset({"IPython", "ipywidgets", "tqdm"})
DISPLAY_FUNCTIONS = frozenset({"print", "display", "lab2prod.record", "pprint.pprint"})
PURE_MODULES = frozenset(
    {
        "pandas", "numpy", "polars", "math", "statistics", "scipy", "sklearn", "datetime",
        "decimal", "fractions", "itertools", "functools", "operator", "collections", "re",
        "string", "textwrap", "copy", "json", "pyarrow",
    }
)  # fmt: skip
# Functions of those modules that are not pure after all: writes, seeding, global state. (Reads
# are pure here: a read whose result nothing uses can go.)
_IMPURE_PREFIXES = ("save", "dump", "to_", "write", "seed", "set_")
PURE_BUILTINS = frozenset(
    {
        "abs", "all", "any", "bool", "dict", "divmod", "enumerate", "float", "format",
        "frozenset", "hash", "int", "isinstance", "issubclass", "len", "list", "max", "min",
        "range", "repr", "reversed", "round", "set", "slice", "sorted", "str", "sum", "tuple",
        "type", "zip", "ord", "chr", "callable", "bin", "hex", "oct", "map", "filter",
    }
)  # fmt: skip
BUILTIN_NAMES = frozenset(dir(builtins)) | {"display", "__name__", "__file__"}
UNSUPPORTED_CALLS = {
    "exec": "exec",
    "eval": "eval",
    "globals": "globals()",
    "locals": "locals()",
    "vars": "vars()",
    "get_ipython": "get_ipython()",
    "__import__": "__import__",
}


def call_effect(
    node: ast.Call,
    modules: Mapping[str, str],
    helpers: Mapping[str, object],
    plot_names: set[str],
) -> tuple[str, str | None]:
    """The call's kind of effect, and the name whose object it mutates (if any)."""
    func = node.func
    name = dotted(func, modules)
    if name is not None:
        return module_call_effect(name), None
    if isinstance(func, ast.Name):
        if func.id in DISPLAY_FUNCTIONS and func.id not in helpers:
            return "display", None
        if func.id in PURE_BUILTINS:
            return "none", None
        return "effect", None
    if not isinstance(func, ast.Attribute):
        return "effect", None
    method = func.attr
    receiver_root = root_name(func.value, through_calls=True)
    chain = _attributes(func)
    if receiver_root in plot_names or PLOT_METHODS & set(chain):
        return ("display" if method == "show" else "plot"), None
    receiver_module = dotted(_chain_root(func.value), modules)
    if receiver_module is not None and receiver_module.split(".")[0] in PLOT_MODULES:
        return ("display" if method == "show" else "plot"), None
    if method in WRITE_METHODS:
        return "write", None
    inplace = any(
        k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in node.keywords
    )
    if method in MUTATING_METHODS or inplace:
        root = root_name(func.value)
        if root is not None and root not in modules:
            return "effect", root
        return ("effect", None) if receiver_module else ("none", None)
    return "none", None


_BUILTIN_TYPES = frozenset(
    {"str", "bytes", "dict", "list", "set", "frozenset", "int", "float", "complex", "tuple",
     "object", "type", "bool", "bytearray"}
)  # fmt: skip


def unused_call_changes(
    node: ast.Call,
    modules: Mapping[str, str],
    helpers: Mapping[str, object],
    plot_names: set[str],
) -> str | None:
    """The notebook variable a call whose result is unused changes, if it may change one.

    A bare ``obj.method(...)`` (or ``obj[key].method(...)``, ``obj.attr.method(...)``) of a
    notebook variable runs for its effect unless the method is known not to change anything
    (``PURE_METHODS``), or the call displays, plots or writes: ``obj`` gets a new version.
    """
    func = node.func
    if not isinstance(func, ast.Attribute) or func.attr in PURE_METHODS:
        return None
    root = root_name(func.value)
    if root is None or root in modules or root in helpers or root in _BUILTIN_TYPES:
        return None
    effect, changed = call_effect(node, modules, helpers, plot_names)
    if changed is not None or effect in ("display", "plot", "write"):
        return None  # already a known change, or not a change at all
    return root


OUTSIDE_EFFECT_METHODS = frozenset(
    {
        "write", "writelines", "flush", "close", "commit", "rollback", "execute",
        "executemany", "send", "sendall", "debug", "warning", "error", "exception", "critical",
    }
)  # fmt: skip
"""Methods whose effect is outside the object (a file, a database, a log): a bare call of one
is kept, but its receiver (a handle, a connection, a logger) gets no new version."""


def module_call_effect(name: str) -> str:
    parts = name.lstrip(".").split(".")
    if name in DISPLAY_FUNCTIONS or parts[0] in DISPLAY_MODULES:
        return "display"
    if parts[0] in PLOT_MODULES:
        # Showing is display: the figures stay open, and the node returns them for the catalog.
        return "display" if parts[-1] == "show" else "plot"
    if parts[0] in PURE_MODULES:
        if "random" in parts or parts[-1].startswith(_IMPURE_PREFIXES):
            return "effect"
        return "none"
    return "effect"


def dotted(expr: ast.expr, modules: Mapping[str, str]) -> str | None:
    """The dotted name an expression refers to through the imports, e.g. ``pandas.read_csv``."""
    if isinstance(expr, ast.Name):
        return modules.get(expr.id)
    if isinstance(expr, ast.Attribute):
        base = dotted(expr.value, modules)
        return None if base is None else f"{base}.{expr.attr}"
    return None


def root_name(expr: ast.expr, *, through_calls: bool = False) -> str | None:
    """The variable at the root of ``a.b[c].d``, or ``None`` when the root is not a name."""
    while True:
        if isinstance(expr, ast.Name):
            return expr.id
        if isinstance(expr, ast.Attribute | ast.Subscript | ast.Starred):
            expr = expr.value
        elif through_calls and isinstance(expr, ast.Call):
            expr = expr.func
        else:
            return None


def _attributes(expr: ast.expr) -> list[str]:
    """Attribute names along a chain ``a.b(...).c[...].d``."""
    found = []
    while isinstance(expr, ast.Attribute | ast.Subscript | ast.Call):
        if isinstance(expr, ast.Attribute):
            found.append(expr.attr)
            expr = expr.value
        elif isinstance(expr, ast.Subscript):
            expr = expr.value
        else:
            expr = expr.func
    return found


def _chain_root(expr: ast.expr) -> ast.expr:
    while isinstance(expr, ast.Attribute | ast.Subscript | ast.Call):
        expr = expr.func if isinstance(expr, ast.Call) else expr.value
    return expr


def imported_names(statement: ast.Import | ast.ImportFrom) -> dict[str, str]:
    """The names an import binds, to what they refer to (``np`` -> ``numpy``)."""
    names = {}
    for alias in statement.names:
        if isinstance(statement, ast.Import):
            if alias.asname:
                names[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                names[top] = top
        else:
            module = "." * statement.level + (statement.module or "")
            names[alias.asname or alias.name] = f"{module}.{alias.name}"
    return names
