"""From parsed cells to the code each node keeps: statements analysed, reads lifted, display cut.

``select_code`` walks every kept cell once: imports and notebook functions go to module level
(``ModuleCode``), a literal-path read becomes a catalog read, and each other statement is
analysed (``analysis.analyze``). Then, from the last section back, statements that only display
(bare expressions, ``print``, file writes) or compute what nothing reads are left out, each with
a ``Drop`` that the node's docstring lists. Plots are kept: a section that draws returns its
figures, which the catalog saves (a cell tagged ``skip-plots`` has its plots left out). A value
the notebook shows (printed, displayed, or the bare expression of a cell) is kept and, when
nothing later reads it, is a result of the section that made it. The text of what stays is
edited in place (``source.CellText``), so comments survive.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from typing import Any

from lab2prod.convert import analysis, datasets, files
from lab2prod.convert.analysis import Effect, EventKind, Facts, Scope, StatementKind
from lab2prod.convert.cells import ParsedCell, SplitNotebook, Unit, slug
from lab2prod.convert.effects import imported_names
from lab2prod.convert.module import (
    ModuleCode,
    changed_parameters,
    module_code,
    rewrite_helper_uses,
)
from lab2prod.convert.source import CellText, tidy
from lab2prod.errors import ConversionError
from lab2prod.notebook import Notebook

DROPPABLE = frozenset({Effect.NONE, Effect.DISPLAY, Effect.PLOT, Effect.WRITE})
SKIP_PLOTS_TAG = "skip-plots"
"""The tag of a cell whose plots nobody wants: they are left out, as display code is."""


@dataclass(frozen=True)
class Drop:
    """A statement left out of the generated code, for the docstring's list."""

    cell: int
    line: int
    text: str
    reason: str


@dataclass
class CatalogRead:
    """``name = <literal read>`` or a read in an expression, replaced by ``name``.

    Attributes:
        name: The variable (or, for a read inside an expression, a name made from the file).
        read: The read, or ``None`` for ``catalog.load("dataset")``.
        dataset: For ``catalog.load``: the project's dataset name.
        written: The write of an earlier section this read reads back, if any.
        filepath: The file, relative to the project root (reads of files).
        where: The code cell, line and first line of the statement that reads.
    """

    name: str
    read: datasets.LiteralRead | None
    dataset: str | None = None
    written: files.FileWrite | None = None
    filepath: str = ""
    where: tuple[int, int, str] = (0, 0, "")
    """The code cell, line and text of the statement that reads."""


@dataclass
class Step:
    """A kept statement (``facts``) or a catalog read assigned to a name (``catalog``).

    A step of ``UnitCode.shown`` is a dropped statement that shows values (``print(score)``,
    a bare ``summary``): only the names it reads count, as values the notebook showed.
    """

    cell: ParsedCell
    facts: Facts | None = None
    catalog: CatalogRead | None = None
    assigned: tuple[str, ast.expr] | None = None
    top_binds: tuple[str, ...] = ()
    position: tuple[int, int] = (0, 0)
    statement: ast.stmt | None = None
    write: files.FileWrite | None = None


@dataclass
class UnitCode:
    """The kept code of one unit.

    Attributes:
        unit: The unit.
        steps: Kept statements and catalog reads, in order.
        drops: What was left out.
        body: The kept code's text, not indented.
        embedded_reads: Reads inside expressions, replaced by a name.
        replacements: ``id`` of a read call inside an expression to the name replacing it.
        nested_drops: ``id`` of a kept compound statement to the statements dropped inside.
        writes: ``id`` of a statement writing a file to the write it became: a catalog output.
        local_files: Files the unit writes and reads back itself: both calls stay code.
        shown: Dropped statements that show values, in order (their reads are what is shown).
        plots: Whether the kept code draws figures (which the node returns).
        final: Whether this is the last unit that computes anything but plots.
        imports: Import statements of the unit, by position, with the names they bind: they
            go to module level, and they make those names modules again in the flow.
        kept_imports: Positions of imports that stay in the node's code too: they rebind a
            name the node holds as a variable before them.
        paths: Where the unit's literal paths start, to write those of kept code from the
            project root (``files.KeptPaths``).
    """

    unit: Unit
    steps: list[Step] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)
    body: str = ""
    embedded_reads: list[CatalogRead] = field(default_factory=list)
    replacements: dict[int, str] = field(default_factory=dict)
    nested_drops: dict[int, list[Facts]] = field(default_factory=dict)
    writes: dict[int, files.FileWrite] = field(default_factory=dict)
    local_files: set[str] = field(default_factory=set)
    shown: list[Step] = field(default_factory=list)
    plots: bool = False
    final: bool = False
    imports: list[tuple[tuple[int, int], tuple[str, ...]]] = field(default_factory=list)
    kept_imports: set[tuple[int, int]] = field(default_factory=set)
    paths: files.KeptPaths | None = None

    @property
    def has_code(self) -> bool:
        return any(step.facts is not None for step in self.steps)


def select_code(
    notebook: Notebook, split: SplitNotebook, folder: str = "."
) -> tuple[ModuleCode, list[UnitCode]]:
    """Analyse every kept cell; lift imports, functions and reads; leave out display code.

    Args:
        notebook: The notebook.
        split: Its units.
        folder: The notebook's folder relative to the project root: where its literal paths
            start, unless a ``%cd`` or ``os.chdir`` at the top moves elsewhere.

    Raises:
        ConversionError: A construct that cannot be converted (star import, ``global``,
            ``exec``, ...), a parameter default that is not a literal, or a read whose
            arguments cannot go into the catalog.
    """
    module = module_code(notebook, split)
    bound_anywhere = _bound_names(split)
    scope = Scope(
        modules=module.modules,
        helpers={name: helper.needs for name, helper in module.helpers.items()},
        kernel_catalog="catalog" not in bound_anywhere,
        changes_arguments={
            name: changed_parameters(helper.node, helper.needs)
            for name, helper in module.helpers.items()
            if not isinstance(helper.node, ast.ClassDef)
        },
    )
    taken = set(bound_anywhere) | set(module.modules) | set(module.helpers)
    codes = [UnitCode(unit) for unit in split.units]
    module.folder = folder
    written: dict[str, files.FileWrite] = {}
    statements: list[list[tuple[ParsedCell, ast.stmt, Facts | None, CatalogRead | None]]] = []
    for code in codes:
        found = []
        read_here = _paths_read(code, scope, module)
        for cell in code.unit.cells:
            assert cell.tree is not None
            for line in cell.ipython:
                if line.magic == "cd":
                    _change_folder(notebook, cell, line.line, line.argument, code, module)
                code.drops.append(Drop(cell.cell.code_number or 0, line.line, line.text, line.kind))
            for statement in cell.tree.body:
                if isinstance(statement, ast.Import | ast.ImportFrom):
                    names = tuple(imported_names(statement))
                    code.imports.append(((cell.cell.index, statement.lineno), names))
                    continue
                if isinstance(statement, ast.FunctionDef):
                    continue
                if isinstance(statement, ast.AsyncFunctionDef | ast.ClassDef):
                    continue
                moved = files.changed_directory(statement, scope.modules)
                if moved is not None:
                    _change_folder(notebook, cell, statement.lineno, moved, code, module)
                    code.drops.append(
                        Drop(
                            cell.cell.code_number or 0,
                            statement.lineno,
                            ast.unparse(statement),
                            "folder",
                        )
                    )
                    continue
                write = _file_write(cell, statement, scope, module, code, taken, read_here)
                if write is not None:
                    facts = _write_facts(write, statement, scope)
                    written[files.normal(write.filepath)] = write
                    code.writes[id(statement)] = write
                    found.append((cell, statement, facts, None))
                    continue
                facts = analysis.analyze(statement, scope)
                _refuse_unsupported(notebook, cell, facts)
                if facts.effect == Effect.WRITE and _writes_local_file(
                    statement, scope, code, module
                ):
                    facts.effect = Effect.EFFECT  # read back in this section: the node writes it
                read = _catalog_read(
                    notebook, cell, statement, facts, scope, taken, code, module, written
                )
                found.append((cell, statement, None if read else facts, read))
        statements.append(found)
    plotting = {name for name, helper in module.helpers.items() if helper.plots}
    _prune(codes, statements, plotting)
    paths = files.KeptPaths(files.project_root(notebook.path, folder), module.folder)
    for code in codes:
        code.plots = _draws(code, plotting)
        code.paths = paths
        code.body = render_unit(code, scope.helpers)
    return module, codes


def _rewrite_paths(text: CellText, facts: Facts, code: UnitCode, paths: files.KeptPaths) -> None:
    """Kept code's literal paths from the project root (``files.KeptPaths``)."""
    if paths.root is None or paths.folder in ("", "."):
        return
    edited = [call for call in ast.walk(facts.node) if id(call) in code.replacements]
    edited += _dropped_inside(code, facts)
    formatted = {
        id(part)
        for node in ast.walk(facts.node)
        if isinstance(node, ast.JoinedStr)
        for part in ast.walk(node)
    }
    for node in ast.walk(facts.node):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        if id(node) in formatted or any(_inside(node, other) for other in edited):
            continue
        new = paths.rewritten(node.value)
        if new is not None:
            text.replace(node, json.dumps(new))  # a plain Python string, in double quotes


def _dropped_inside(code: UnitCode, facts: Facts) -> list[ast.AST]:
    """Statements left out inside a kept compound statement, at any depth."""
    found: list[ast.AST] = []
    dropped = code.nested_drops.get(id(facts.node), [])
    for body in facts.children:
        for child in body:
            if child in dropped:
                found.append(child.node)
            else:
                found += _dropped_inside(code, child)
    return found


def _inside(node: ast.AST, outer: ast.AST) -> bool:
    start = (node.lineno, node.col_offset)  # type: ignore[attr-defined]
    end = (node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
    return (outer.lineno, outer.col_offset) <= start and end <= (  # type: ignore[attr-defined]
        outer.end_lineno,  # type: ignore[attr-defined]
        outer.end_col_offset,  # type: ignore[attr-defined]
    )


def _bound_names(split: SplitNotebook) -> dict[str, ParsedCell]:
    """Every name a kept cell binds at some level, with the first cell that binds it."""
    found: dict[str, ParsedCell] = {}
    for unit in split.units:
        for cell in unit.cells:
            assert cell.tree is not None
            for node in ast.walk(cell.tree):
                if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                    found.setdefault(node.id, cell)
    return found


def _refuse_unsupported(notebook: Notebook, cell: ParsedCell, facts: Facts) -> None:
    for found in facts.unsupported:
        fixes = {
            "global": "Return the value from the function and assign it where it is called.",
            "nonlocal": "Return the value from the inner function instead.",
            "star import": "Import the names you use.",
        }
        fix = fixes.get(
            found.construct,
            "Write the code out, so that what it reads and writes can be seen statically.",
        )
        raise ConversionError.at(
            notebook,
            cell.cell,
            found.line,
            found.construct,
            f"`{found.construct}` cannot be converted safely: a node's inputs and outputs are "
            f"found by reading the code, and `{found.construct}` hides them. {fix}",
        )


def _catalog_read(
    notebook: Notebook,
    cell: ParsedCell,
    statement: ast.stmt,
    facts: Facts,
    scope: Scope,
    taken: set[str],
    code: UnitCode,
    module: ModuleCode,
    written: dict[str, files.FileWrite],
) -> CatalogRead | None:
    """A ``name = read(...)`` statement's read; reads inside expressions become names.

    A read of a file an earlier section writes reads that section's output.
    """
    found: list[tuple[ast.Call, CatalogRead]] = []
    for call in facts.calls:
        kernel = _kernel_load(call, scope)
        try:
            read = None if kernel else datasets.literal_read(call, scope.modules)
        except datasets.ReadArgumentError as exc:
            raise ConversionError.at(
                notebook,
                cell.cell,
                call.lineno,
                "data read",
                f"the read `{ast.unparse(call)}` cannot become a catalog entry: {exc}.",
            ) from exc
        if kernel is not None or read is not None:
            text = ast.get_source_segment(cell.python, statement) or ast.unparse(statement)
            first = text.strip().splitlines()[0] if text.strip() else ""
            where = (cell.cell.code_number or 0, call.lineno, first)
            catalog = CatalogRead("", read, kernel, where=where)
            if read is not None:
                catalog.filepath = files.project_path(read.path, module.folder)
                if files.normal(catalog.filepath) in code.local_files:
                    continue  # written earlier in this very section: the read stays code
                catalog.written = written.get(files.normal(catalog.filepath))
            found.append((call, catalog))
    if not found:
        return None
    simple = isinstance(statement, ast.Assign) and len(statement.targets) == 1
    if simple and isinstance(statement.targets[0], ast.Name) and statement.value is found[0][0]:
        result = found[0][1]
        result.name = statement.targets[0].id
        return result
    if not isinstance(statement, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.Expr):
        return None  # a read inside a loop or a branch stays in the code
    for call, read in found:
        stem = read.dataset or _file_stem(read)
        name = slug(stem) or "data"
        while name in taken:
            name = f"{name}_data"
        taken.add(name)
        read.name = name
        code.embedded_reads.append(read)
        code.replacements[id(call)] = name
    return None


def _paths_read(code: UnitCode, scope: Scope, module: ModuleCode) -> dict[str, int]:
    """The files a unit reads with literal paths, to the cell and line of the last read."""
    found: dict[str, int] = {}
    for cell in code.unit.cells:
        assert cell.tree is not None
        for node in ast.walk(cell.tree):
            if not isinstance(node, ast.Call):
                continue
            try:
                read = datasets.literal_read(node, scope.modules)
            except datasets.ReadArgumentError:
                continue
            if read is not None:
                path = files.normal(files.project_path(read.path, module.folder))
                found[path] = max(found.get(path, -1), cell.cell.index * 100_000 + node.lineno)
    return found


def _file_write(
    cell: ParsedCell,
    statement: ast.stmt,
    scope: Scope,
    module: ModuleCode,
    code: UnitCode,
    taken: set[str],
    read_here: dict[str, int],
) -> files.FileWrite | None:
    """A top-level write of one value to a literal path, as a catalog output.

    Not when the same section reads the file back afterwards (the node keeps both, the file
    goes where the notebook's code puts it), nor when the written value calls a notebook
    function that takes notebook variables (its call would need rewriting).
    """
    write = files.literal_write(statement, scope.modules)
    if write is None:
        return None
    filepath = files.project_path(write.path, module.folder)
    here = cell.cell.index * 100_000 + statement.lineno
    if read_here.get(files.normal(filepath), -1) > here:
        code.local_files.add(files.normal(filepath))
        return None
    value = write.value
    if value is not None:
        uses = [n for n in ast.walk(value) if isinstance(n, ast.Name) and n.id in scope.helpers]
        if any(scope.helpers[n.id] for n in uses):
            return None
        text = ast.get_source_segment(cell.python, value) or ast.unparse(value)
    else:
        pyplot = next((n for n, t in scope.modules.items() if t == "matplotlib.pyplot"), None)
        if pyplot is None:
            return None
        text = f"{pyplot}.gcf()"
    variable = files.variable_for(write.path, taken)
    return files.FileWrite(variable, write, filepath, f"{variable} = {text}", text)


def _writes_local_file(
    statement: ast.stmt, scope: Scope, code: UnitCode, module: ModuleCode
) -> bool:
    write = files.literal_write(statement, scope.modules)
    if write is None:
        return False
    return files.normal(files.project_path(write.path, module.folder)) in code.local_files


def _write_facts(write: files.FileWrite, statement: ast.stmt, scope: Scope) -> Facts:
    """The facts of ``variable = <value>``, the statement a write becomes: a new object."""
    assignment = ast.parse(write.text).body[0]
    for node in ast.walk(assignment):
        if hasattr(node, "lineno"):
            node.lineno = node.end_lineno = statement.lineno  # type: ignore[attr-defined]
    facts = analysis.analyze(assignment, scope)
    facts.events = [
        analysis.Event(EventKind.BIND, e.name, e.line) if e.kind == EventKind.ALIAS else e
        for e in facts.events
    ]
    facts.effect = Effect.EFFECT  # never dropped: the catalog writes the file
    return facts


def _change_folder(
    notebook: Notebook,
    cell: ParsedCell,
    line: int,
    target: str,
    code: UnitCode,
    module: ModuleCode,
) -> None:
    """``%cd ..`` or ``os.chdir("..")`` at the top: later literal paths start from there."""
    if not code.unit.setup or not target or "://" in target:
        raise ConversionError.at(
            notebook,
            cell.cell,
            line,
            "working folder",
            "changing the working folder here makes every later path mean something else, "
            "and a pipeline's nodes all run from the project root. Change it only at the top "
            "of the notebook, with a literal path (`%cd ..`), or use paths relative to the "
            "notebook's folder.",
        )
    module.folder = files.project_path(target, module.folder)


def _kernel_load(call: ast.Call, scope: Scope) -> str | None:
    """``catalog.load("name")`` with the catalog of ``kedro.ipython``: the dataset's name."""
    func = call.func
    if (
        scope.kernel_catalog
        and isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id == "catalog"
        and func.attr == "load"
        and len(call.args) == 1
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, str)
    ):
        return call.args[0].value
    return None


def _file_stem(read: CatalogRead) -> str:
    assert read.read is not None
    name = read.read.path.replace("\\", "/").rsplit("/", 1)[-1]
    return name.split(".")[0]


def _prune(codes: list[UnitCode], statements: list[list[Any]], plotting: set[str]) -> None:
    """Decide, from the last unit back, which statements each unit keeps (``Step``).

    A statement is kept when it has an effect, draws (outside ``skip-plots`` cells), or binds a
    name that a kept statement after it reads (backward liveness). A name the notebook shows is
    live too. The last unit that computes anything but plots is the final one: what it assigns
    at top level, and what it changes, are the pipeline's results, so they are live.
    """
    final = max(
        (i for i, found in enumerate(statements) if any(_counts(f) for _, _, f, _ in found)),
        default=None,
    )
    if final is not None:
        codes[final].final = True
    live: set[str] = set()
    for index in reversed(range(len(codes))):
        if index == final or _draws_any(statements[index], plotting):
            # The final section's values, and what a section that draws computes, are results.
            for _, _, facts, _ in statements[index]:
                if facts is not None and facts.effect != Effect.PLOT:
                    live |= set(_assigned_names(facts)) | facts.mutates
        steps: list[Step] = []
        shown: list[Step] = []
        for cell, statement, facts, read in reversed(statements[index]):
            position = (cell.cell.index, statement.lineno)
            if read is not None:
                live.discard(read.name)
                steps.append(Step(cell, catalog=read, position=position, statement=statement))
                continue
            assert facts is not None
            keep_plots = SKIP_PLOTS_TAG not in cell.cell.tags
            if _droppable(facts, live, keep_plots=keep_plots):
                _record_drop(codes[index], cell, facts)
                if _shows(facts):
                    shown.append(Step(cell, facts=facts, position=position))
                    live |= set(facts.reads)
                continue
            _keep_children(codes[index], cell, facts, live, keep_plots=keep_plots)
            step = _step(cell, facts, position)
            step.statement = statement
            step.write = codes[index].writes.get(id(statement))
            steps.append(step)
            live = (live - _definite_binds(facts)) | set(facts.reads) | facts.mutates
        codes[index].steps = list(reversed(steps))
        codes[index].shown = list(reversed(shown))


def _counts(facts: Facts | None) -> bool:
    """Whether a statement makes its unit a candidate for the final one (plots do not)."""
    if facts is None:
        return False
    return not _droppable(facts, set(), keep_plots=False) or (
        facts.kind == StatementKind.ASSIGN and facts.effect != Effect.PLOT
    )


def _shows(facts: Facts) -> bool:
    """Whether a dropped statement shows values: ``print(x)``, ``display(df)``, a bare ``x``."""
    return (
        facts.kind == StatementKind.EXPR
        and facts.effect in (Effect.DISPLAY, Effect.NONE)
        and not facts.children
    )


def _draws_any(found: list[Any], plotting: set[str]) -> bool:
    """Whether a unit has a plot that stays (outside ``skip-plots`` cells), before pruning."""

    def draws(facts: Facts) -> bool:
        calls = any(n.id in plotting for n, _ in facts.helper_uses)
        if not facts.children:
            return facts.effect == Effect.PLOT or calls
        return any(draws(child) for body in facts.children for child in body)

    return any(
        facts is not None and SKIP_PLOTS_TAG not in cell.cell.tags and draws(facts)
        for cell, _, facts, _ in found
    )


def _droppable(facts: Facts, live: set[str], *, keep_plots: bool) -> bool:
    if facts.binds & live:
        return False
    if facts.children:
        inner = live | set(facts.reads)
        return facts.header_pure and all(
            _droppable(child, inner, keep_plots=keep_plots)
            for body in facts.children
            for child in body
        )
    if facts.effect not in DROPPABLE:
        return False
    if facts.effect == Effect.PLOT:
        return not keep_plots and not facts.mutates & live
    return True


def _draws(code: UnitCode, plotting_helpers: set[str]) -> bool:
    """Whether a unit's kept code draws: a plot statement, or a call of a function that plots."""

    def draws(facts: Facts) -> bool:
        if id(facts) in dropped:
            return False
        calls = any(n.id in plotting_helpers for n, _ in facts.helper_uses)
        if not facts.children and (facts.effect == Effect.PLOT or calls):
            return True
        return any(draws(child) for body in facts.children for child in body)

    dropped = {id(f) for found in code.nested_drops.values() for f in found}
    return any(step.facts is not None and draws(step.facts) for step in code.steps)


def _keep_children(
    code: UnitCode, cell: ParsedCell, facts: Facts, live: set[str], *, keep_plots: bool
) -> None:
    """Record the droppable statements inside a kept compound statement."""
    inner = live | set(facts.reads)
    for body in facts.children:
        for child in body:
            if _droppable(child, inner, keep_plots=keep_plots):
                code.nested_drops.setdefault(id(facts.node), []).append(child)
                _record_drop(code, cell, child)
            else:
                _keep_children(code, cell, child, inner, keep_plots=keep_plots)


def _assigned_names(facts: Facts) -> list[str]:
    """Names a top-level assignment binds, not ``_private`` ones."""
    if facts.kind != StatementKind.ASSIGN:
        return []
    return [
        e.name
        for e in facts.events
        if e.kind in (EventKind.BIND, EventKind.ALIAS) and not e.name.startswith("_")
    ]


def _definite_binds(facts: Facts) -> set[str]:
    return set() if facts.children else facts.binds


def _step(cell: ParsedCell, facts: Facts, position: tuple[int, int]) -> Step:
    node = facts.node
    assigned = None
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        if isinstance(node.targets[0], ast.Name):
            assigned = (node.targets[0].id, node.value)
    elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
        assigned = (node.target.id, node.value)
    top = tuple(_assigned_names(facts)) if facts.effect != Effect.PLOT else ()
    return Step(cell, facts=facts, assigned=assigned, top_binds=top, position=position)


def _record_drop(code: UnitCode, cell: ParsedCell, facts: Facts) -> None:
    node = facts.node
    text = ast.get_source_segment(cell.python, node) or ast.unparse(node)
    first = text.strip().splitlines()[0] if text.strip() else ""
    reason = facts.effect if facts.effect in DROPPABLE else Effect.NONE
    if facts.kind == StatementKind.ASSIGN and reason == Effect.NONE:
        reason = "unused"
    code.drops.append(Drop(cell.cell.code_number or 0, node.lineno, first, str(reason)))


def render_unit(code: UnitCode, helpers: dict[str, tuple[str, ...]]) -> str:
    """The unit's kept code: each cell's text with lifted and dropped statements removed.

    Args:
        code: The unit's code.
        helpers: The notebook's functions, to the notebook variables each one takes.
    """
    kept = {id(step.statement): step for step in code.steps if step.facts is not None}
    parts = []
    for cell in code.unit.cells:
        assert cell.tree is not None
        text = CellText(cell.python)
        body = cell.tree.body
        for position, statement in enumerate(body):
            shares = _shares_lines(body, position)
            if (cell.cell.index, statement.lineno) in code.kept_imports:
                continue
            if id(statement) not in kept:
                text.remove(statement, whole_lines=not shares, comments_above=not shares)
                continue
            step = kept[id(statement)]
            if step.write is not None:  # the catalog writes the file: the node returns it
                text.replace_lines(statement, step.write.text)
                continue
            facts = step.facts
            assert facts is not None
            _remove_nested(code, text, facts)
            if code.paths is not None:
                _rewrite_paths(text, facts, code, code.paths)
            for call in facts.calls:
                if id(call) in code.replacements:
                    text.replace(call, code.replacements[id(call)])
            rewrite_helper_uses(text, facts.helper_uses, helpers)
        parts.append(tidy(text.render()))
    return "\n".join(part for part in parts if part.strip())


def _remove_nested(code: UnitCode, text: CellText, facts: Facts) -> None:
    dropped = code.nested_drops.get(id(facts.node), [])
    for body in facts.children:
        gone = [child for child in body if child in dropped]
        for position, child in enumerate(body):
            if child in gone:
                if len(gone) == len(body) and position == 0:
                    text.replace_lines(child.node, "pass")
                else:
                    shares = _shares_lines([c.node for c in body], position)
                    text.remove(child.node, whole_lines=not shares, comments_above=False)
            else:
                _remove_nested(code, text, child)


def _shares_lines(body: list[ast.stmt], position: int) -> bool:
    statement = body[position]
    first, last = statement.lineno, statement.end_lineno or statement.lineno
    neighbours = body[max(0, position - 1) : position] + body[position + 1 : position + 2]
    return any(n.lineno <= last and first <= (n.end_lineno or n.lineno) for n in neighbours)
