"""Files a notebook writes with a literal path, and where its literal paths point.

``df.to_csv("out/orders.csv", index=False)`` in a section becomes a catalog output of that
section's node, with that file path and the matching kedro-datasets type (``WRITERS``), so that
``kedro run`` writes the file and a later ``pd.read_csv("out/orders.csv")`` reads that dataset:
Kedro then runs the writer first. Paths are the notebook's, relative to its folder as Jupyter
runs it, or to the folder a ``%cd`` / ``os.chdir`` at the top moves to.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab2prod.convert.effects import dotted


@dataclass(frozen=True)
class Writer:
    """How a writing call maps to a dataset.

    Attributes:
        dataset: The dataset's ``type:``.
        path: The position and keyword names of the path argument.
        value: The position and keyword of the value, for a function (``None``: the receiver
            of a method, or the current figure for ``plt.savefig``).
        config: Extra keys of the entry (``file_format``, ``backend``).
        defaults: Save arguments whose default differs between the call and the dataset.
        opened: Whether the path comes in an ``open(path, mode)`` call (``json.dump``).
    """

    dataset: str
    path: tuple[int, tuple[str, ...]]
    value: tuple[int, str] | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    opened: bool = False


_FIRST = 0
METHOD_WRITERS: dict[str, Writer] = {
    "to_csv": Writer("pandas.CSVDataset", (_FIRST, ("path_or_buf",)), defaults={"index": True}),
    "to_parquet": Writer("pandas.ParquetDataset", (_FIRST, ("path",))),
    "to_json": Writer("pandas.JSONDataset", (_FIRST, ("path_or_buf",))),
    "to_excel": Writer(
        "pandas.ExcelDataset", (_FIRST, ("excel_writer",)), defaults={"index": True}
    ),
    "to_feather": Writer("pandas.FeatherDataset", (_FIRST, ("path",))),
    "to_pickle": Writer("pickle.PickleDataset", (_FIRST, ("path",))),
    "write_csv": Writer(
        "polars.EagerPolarsDataset", (_FIRST, ("file",)), config={"file_format": "csv"}
    ),
    "write_parquet": Writer(
        "polars.EagerPolarsDataset", (_FIRST, ("file",)), config={"file_format": "parquet"}
    ),
    "write_json": Writer(
        "polars.EagerPolarsDataset", (_FIRST, ("file",)), config={"file_format": "json"}
    ),
    "write_ipc": Writer(
        "polars.EagerPolarsDataset", (_FIRST, ("file",)), config={"file_format": "ipc"}
    ),
    "savefig": Writer("matplotlib.MatplotlibDataset", (_FIRST, ("fname",))),
}
"""Methods that write their receiver to a file, by method name."""

FUNCTION_WRITERS: dict[str, Writer] = {
    "numpy.save": Writer("lab2prod.datasets.NumpyDataset", (0, ("file",)), value=(1, "arr")),
    "matplotlib.pyplot.savefig": Writer("matplotlib.MatplotlibDataset", (0, ("fname",))),
    "joblib.dump": Writer(
        "pickle.PickleDataset", (1, ("filename",)), value=(0, "value"), config={"backend": "joblib"}
    ),
    "json.dump": Writer("json.JSONDataset", (1, ("fp",)), value=(0, "obj"), opened=True),
    "pickle.dump": Writer("pickle.PickleDataset", (1, ("file",)), value=(0, "obj"), opened=True),
}
"""Functions that write a value to a file, by the dotted name the imports resolve to."""


@dataclass
class LiteralWrite:
    """A statement that writes one value to a file given by a literal path.

    Attributes:
        statement: The statement (an expression, or ``with open(...) as f: json.dump(x, f)``).
        value: The expression written, or ``None`` for the current figure (``plt.savefig``).
        path: The path as the notebook writes it.
        writer: The writer.
        save_args: The call's other arguments, as Python values.
        function: The call as the notebook writes it, for messages.
    """

    statement: ast.stmt
    value: ast.expr | None
    path: str
    writer: Writer
    save_args: dict[str, Any]
    function: str

    def entry(self, filepath: str) -> dict[str, Any]:
        """The catalog entry that saves the value where the notebook wrote it."""
        entry: dict[str, Any] = {"type": self.writer.dataset, "filepath": filepath}
        entry.update(self.writer.config)
        save_args = {**self.writer.defaults, **self.save_args}
        if save_args:
            entry["save_args"] = save_args
        return entry


def literal_write(statement: ast.stmt, modules: Mapping[str, str]) -> LiteralWrite | None:
    """The write a top-level statement is, when it writes one value to a literal path.

    Anything else (a computed path, positional options, a file opened for appending) is
    ``None``: the statement stays code.
    """
    if isinstance(statement, ast.With) and len(statement.items) == 1 and len(statement.body) == 1:
        return _with_open(statement, modules)
    if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
        return None
    call = statement.value
    function = dotted(call.func, modules)
    if function in FUNCTION_WRITERS:
        writer = FUNCTION_WRITERS[function]
        path = _argument(call, *writer.path)
        if writer.opened:
            path = _opened(path, modules, "w")
        value = _argument(call, *writer.value) if writer.value else None
        if writer.value and value is None:
            return None
        used = {writer.path[0], writer.value[0] if writer.value else -1}
        return _write(statement, call, writer, path, value, used)
    if isinstance(call.func, ast.Attribute) and call.func.attr in METHOD_WRITERS:
        if function is not None:  # a module's function of that name, not a method
            return None
        writer = METHOD_WRITERS[call.func.attr]
        path = _argument(call, *writer.path)
        return _write(statement, call, writer, path, call.func.value, {writer.path[0]})
    return None


def literal_path(node: ast.expr | None) -> str | None:
    """The string of a literal path argument (``"out/x.csv"``), or ``None``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def project_path(path: str, base: str) -> str:
    """A path the notebook uses (relative to ``base``, its working folder) from the project root."""
    if "://" in path or os.path.isabs(path):
        return path
    return Path(os.path.normpath(Path(base) / path)).as_posix()


def normal(filepath: str) -> str:
    """A file path in one spelling, to compare paths."""
    return Path(os.path.normpath(filepath)).as_posix()


def changed_directory(statement: ast.stmt, modules: Mapping[str, str]) -> str | None:
    """The folder ``os.chdir("..")`` moves to, as written; ``None`` for other statements."""
    if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
        return None
    call = statement.value
    if dotted(call.func, modules) != "os.chdir" or len(call.args) != 1:
        return None
    return literal_path(call.args[0]) or ""


def _with_open(statement: ast.With, modules: Mapping[str, str]) -> LiteralWrite | None:
    """``with open("x.json", "w") as f: json.dump(obj, f)``."""
    item = statement.items[0]
    inner = statement.body[0]
    if not (
        isinstance(item.optional_vars, ast.Name)
        and isinstance(inner, ast.Expr)
        and isinstance(inner.value, ast.Call)
    ):
        return None
    path = _opened(item.context_expr, modules, "w")
    call = inner.value
    writer = FUNCTION_WRITERS.get(dotted(call.func, modules) or "")
    if path is None or writer is None or not writer.opened or writer.value is None:
        return None
    handle = _argument(call, *writer.path)
    if not (isinstance(handle, ast.Name) and handle.id == item.optional_vars.id):
        return None
    value = _argument(call, *writer.value)
    if value is None:
        return None
    return _write(statement, call, writer, path, value, {writer.path[0], writer.value[0]})


def _write(
    statement: ast.stmt,
    call: ast.Call,
    writer: Writer,
    path: ast.expr | str | None,
    value: ast.expr | None,
    positions: set[int],
) -> LiteralWrite | None:
    text = path if isinstance(path, str) else literal_path(path)
    if text is None:
        return None
    if any(i not in positions for i in range(len(call.args))):
        return None  # options passed by position: kept as code
    names = set(writer.path[1]) | ({writer.value[1]} if writer.value else set())
    save_args: dict[str, Any] = {}
    for keyword in call.keywords:
        if keyword.arg is None:
            return None
        if keyword.arg in names:
            continue
        try:
            save_args[keyword.arg] = ast.literal_eval(keyword.value)
        except ValueError:
            return None  # a computed option: kept as code
    return LiteralWrite(statement, value, text, writer, save_args, ast.unparse(call.func))


def _argument(call: ast.Call, position: int, names: tuple[str, ...] | str) -> ast.expr | None:
    names = (names,) if isinstance(names, str) else names
    for keyword in call.keywords:
        if keyword.arg in names:
            return keyword.value
    return call.args[position] if position < len(call.args) else None


def _opened(node: ast.expr | None, modules: Mapping[str, str], mode: str) -> str | None:
    """The literal path of ``open("x.json", "w")`` (or ``"wb"``), else ``None``."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return None
    if node.func.id != "open" or "open" in modules or not node.args:
        return None
    given = node.args[1] if len(node.args) > 1 else None
    for keyword in node.keywords:
        if keyword.arg == "mode":
            given = keyword.value
    text = literal_path(given) if given is not None else "r"
    if text is None or not text.startswith(mode) or "+" in text:
        return None
    return literal_path(node.args[0])


@dataclass(eq=False)
class FileWrite:
    """A literal write that became a catalog output of its section's node.

    Attributes:
        variable: The name the node returns the written value under.
        write: The write.
        filepath: The file, relative to the project root.
        text: What replaces the statement in the node: ``variable = <value>``.
        value: The written value as the notebook's code writes it (``paid``, ``fig``).
        reads: Reads of the file in later sections (``CatalogRead``), set by the plan.
        obj: The flow's object for the written value, set by ``trace_flow``.
    """

    variable: str
    write: LiteralWrite
    filepath: str
    text: str
    value: str = ""
    reads: list[Any] = field(default_factory=list)
    obj: Any = None

    @property
    def dataset_type(self) -> str:
        return self.write.writer.dataset


def variable_for(path: str, taken: set[str]) -> str:
    """A variable for the value written to ``path``: the file's stem, made unique."""
    from lab2prod.convert.cells import slug

    name = Path(path).name
    stem, _, suffix = name.partition(".")
    base = slug(stem) or "written"
    for candidate in (base, f"{base}_{slug(suffix)}" if suffix else f"{base}_file"):
        if candidate and candidate not in taken:
            taken.add(candidate)
            return candidate
    number = 2
    while f"{base}_file_{number}" in taken:
        number += 1
    taken.add(f"{base}_file_{number}")
    return f"{base}_file_{number}"


@dataclass(frozen=True)
class KeptPaths:
    """Literal paths in code a node keeps (``np.loadtxt("peaks.dat")``, ``open(...)``, a library's
    own reader): the notebook's, relative to its working folder, while every node runs from the
    project root. A string naming a file or folder that exists from the working folder, and not
    from the project root, is rewritten to its path from the project root."""

    root: Path | None
    folder: str

    def rewritten(self, value: str) -> str | None:
        """The path from the project root, or ``None`` to leave ``value`` as it is."""
        if self.root is None or self.folder in ("", ".") or not _looks_like_path(value):
            return None
        if (self.root / value).exists() or not (self.root / self.folder / value).exists():
            return None
        return project_path(value, self.folder)


def _looks_like_path(value: str) -> bool:
    return (
        0 < len(value) < 260
        and "\n" not in value
        and "://" not in value
        and not value.startswith(("/", "~"))
        and ("." in value or "/" in value)
    )


def project_root(notebook: Path, folder: str) -> Path | None:
    """The project root, from the notebook's path and its folder relative to the root."""
    here = Path(notebook).resolve().parent
    parts = [part for part in Path(folder).parts if part != "."]
    if ".." in parts or len(parts) >= len(here.parts):
        return None
    return here.parents[len(parts) - 1] if parts else here
