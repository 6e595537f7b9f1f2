"""What a converted notebook puts at module level: imports, its functions, its parameters.

Every import of a converted cell goes to the top of nodes.py, once. A function or class the
notebook defines becomes module-level; a function that reads a notebook variable (a parameter,
a DataFrame) takes it as a keyword-only argument instead, and every call passes it, so the
function sees the value the notebook's call would have seen.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from lab2prod.convert import analysis, datasets
from lab2prod.convert.analysis import BINDING, Effect, EventKind
from lab2prod.convert.cells import ParsedCell, SplitNotebook
from lab2prod.convert.effects import (
    BUILTIN_NAMES,
    UNSUPPORTED_CALLS,
    call_effect,
    imported_names,
)
from lab2prod.convert.redefine import resolve_redefinitions
from lab2prod.convert.source import CellText
from lab2prod.errors import ConversionError
from lab2prod.notebook import Notebook, parse_parameters


@dataclass
class Helper:
    """A function or class defined in the notebook, moved to module level.

    Attributes:
        name: Its name.
        needs: Notebook variables it reads, which it now takes as keyword-only arguments.
        text: Its source, signature and calls edited for ``needs``.
    """

    name: str
    needs: tuple[str, ...]
    text: str
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    cell: ParsedCell
    plots: bool = False


@dataclass
class ModuleCode:
    """What goes to the generated module's level."""

    imports: list[str] = field(default_factory=list)
    modules: dict[str, str] = field(default_factory=dict)
    helpers: dict[str, Helper] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    parameter_types: dict[str, str] = field(default_factory=dict)
    folder: str = "."
    """The folder literal paths start from, relative to the project root."""
    import_of: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    """Each imported name to the imports that bind it: ``(cell index, statement)``, in order."""
    variables: set[str] = field(default_factory=set)
    """Names the notebook's code binds as variables at top level (not in functions)."""

    def import_before(self, name: str, cell_index: int) -> str:
        """The import statement that binds ``name`` last before ``cell_index`` (else first)."""
        found = self.import_of[name]
        before = [text for index, text in found if index < cell_index]
        return before[-1] if before else found[0][1]


def module_code(notebook: Notebook, split: SplitNotebook) -> ModuleCode:
    """Imports, functions and classes (each definition under a name of its own), parameters.

    Raises:
        ConversionError: A star import, a parameter default that is not a literal, a class
            that reads a notebook variable, or ``global``/``exec`` in a function.
    """
    extras = resolve_redefinitions(split)
    module = ModuleCode()
    cells = [cell for unit in split.units for cell in unit.cells]
    if split.parameters is not None:
        cells.append(split.parameters)
        _parameters(notebook, split.parameters, module)
    definitions = []
    for cell in sorted(cells, key=lambda c: c.cell.index):
        assert cell.tree is not None
        for statement in cell.tree.body:
            if isinstance(statement, ast.Import | ast.ImportFrom):
                if any(alias.name == "*" for alias in statement.names):
                    raise ConversionError.at(
                        notebook,
                        cell.cell,
                        statement.lineno,
                        "star import",
                        f"`{ast.unparse(statement)}` imports names that cannot be known "
                        "without running it. Import the names you use, e.g. `from "
                        f"{statement.module} import name`.",
                    )
                module.modules.update(imported_names(statement))
                for alias in statement.names:
                    name = alias.asname or alias.name.split(".")[0]
                    single = (
                        ast.Import(names=[alias])
                        if isinstance(statement, ast.Import)
                        else ast.ImportFrom(statement.module, [alias], statement.level)
                    )
                    module.import_of.setdefault(name, []).append(
                        (cell.cell.index, ast.unparse(single))
                    )
                text = ast.unparse(statement)
                if text not in module.imports:
                    module.imports.append(text)
            elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                _refuse_hidden_names(notebook, cell, statement)
                definitions.append((statement, cell))
                for extra in extras.get((cell.cell.index, statement.lineno), []):
                    copied = extra.tree.body[0]  # type: ignore[union-attr]
                    assert isinstance(copied, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                    definitions.append((copied, extra))
    module.variables = _variable_names(split)
    names = set(module.modules) | {d.name for d, _ in definitions} | BUILTIN_NAMES
    # A module name the notebook also binds as a variable (`from sklearn import datasets`,
    # later `datasets = [...]`) is whatever it holds when a function runs: the function takes
    # it as an argument, and each call passes the caller's `datasets`, module or list.
    rebound = set(module.modules) & module.variables
    direct = {
        d.name: [
            n
            for n in free_names(d)
            if n not in names or (n in rebound and not isinstance(d, ast.ClassDef))
        ]
        for d, _ in definitions
    }
    calls = {d.name: [n for n in free_names(d) if n in direct] for d, _ in definitions}
    needs = {name: list(found) for name, found in direct.items()}
    changed = True
    while changed:  # a function needs what the functions it calls need
        changed = False
        for name, callees in calls.items():
            for callee in callees:
                for need in needs[callee]:
                    if need not in needs[name]:
                        needs[name].append(need)
                        changed = True
    for definition, cell in definitions:
        if isinstance(definition, ast.ClassDef) and needs[definition.name]:
            raise ConversionError.at(
                notebook,
                cell.cell,
                definition.lineno,
                "class reads notebook variable",
                f"class `{definition.name}` reads the notebook variable(s) "
                f"{', '.join(f'`{n}`' for n in needs[definition.name])}, which a module-level "
                "class cannot see. Pass them to its constructor or methods as arguments.",
            )
        helper = Helper(definition.name, tuple(needs[definition.name]), "", definition, cell)
        module.helpers[definition.name] = helper
    for helper in module.helpers.values():
        helper.text = _helper_text(helper, module)
    _mark_plotting(module)
    return module


def _variable_names(split: SplitNotebook) -> set[str]:
    """Names the kept cells bind as notebook variables: at top level, in loops and branches,
    not inside functions, classes, lambdas or comprehensions (their names are their own)."""
    found: set[str] = set()
    scoped = (
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.ClassDef,
        ast.Lambda,
        ast.ListComp,
        ast.SetComp,
        ast.DictComp,
        ast.GeneratorExp,
    )
    pending: list[ast.AST] = [
        statement
        for unit in split.units
        for cell in unit.cells
        if cell.tree is not None
        for statement in cell.tree.body
    ]
    while pending:
        node = pending.pop()
        if isinstance(node, (*scoped, ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            found.add(node.id)
        pending.extend(ast.iter_child_nodes(node))
    return found


def _mark_plotting(module: ModuleCode) -> None:
    """Mark the functions that draw: a plotting call in their body, or a call of one that does."""
    for helper in module.helpers.values():
        helper.plots = any(
            call_effect(call, module.modules, {}, set())[0] == Effect.PLOT
            for call in ast.walk(helper.node)
            if isinstance(call, ast.Call)
        )
    changed = True
    while changed:
        changed = False
        for helper in module.helpers.values():
            if helper.plots:
                continue
            called = {n.id for n in ast.walk(helper.node) if isinstance(n, ast.Name)}
            if any(module.helpers[n].plots for n in called & set(module.helpers)):
                helper.plots = changed = True


def _parameters(notebook: Notebook, cell: ParsedCell, module: ModuleCode) -> None:
    for name, parameter in parse_parameters(cell.cell.source).items():
        try:
            value = ast.literal_eval(parameter.default)
        except (ValueError, SyntaxError) as exc:
            raise ConversionError.at(
                notebook,
                cell.cell,
                parameter.line,
                "parameter default",
                f"the parameter `{name} = {parameter.default}` is not a literal, so it "
                "cannot go into parameters.yml. Give it a literal default (a number, string, "
                "list or dict) and compute the rest in a later cell.",
            ) from exc
        module.parameters[name] = value
        inferred = datasets.infer_type(ast.parse(parameter.default, mode="eval").body, {}, {})
        if inferred is not None:
            module.parameter_types[name] = inferred


def _helper_text(helper: Helper, module: ModuleCode) -> str:
    lines = helper.cell.python.splitlines(keepends=True)
    first = min([helper.node.lineno, *(d.lineno for d in helper.node.decorator_list)])
    while first > 1 and lines[first - 2].strip().startswith("#"):
        first -= 1
    source = "".join(lines[first - 1 : helper.node.end_lineno])
    text = CellText(source)
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    if helper.needs and not isinstance(node, ast.ClassDef):
        types = module.parameter_types
        text.add_parameters(node, [f"{n}: {types[n]}" if n in types else n for n in helper.needs])
    needs_of = {name: helper.needs for name, helper in module.helpers.items()}
    rewrite_helper_uses(text, _uses_in(node, module), needs_of)
    return text.render()


def _uses_in(node: ast.AST, module: ModuleCode) -> list[tuple[ast.Name, ast.Call | None]]:
    calls = {id(c.func): c for c in ast.walk(node) if isinstance(c, ast.Call)}
    return [
        (n, calls.get(id(n)))
        for n in ast.walk(node)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in module.helpers
    ]


def rewrite_helper_uses(
    text: CellText,
    uses: list[tuple[ast.Name, ast.Call | None]],
    needs_of: dict[str, tuple[str, ...]],
) -> None:
    """Pass each function the notebook variables it reads: ``f(x, threshold=threshold)``."""
    for name, call in uses:
        needs = list(needs_of[name.id])
        if not needs:
            continue
        if call is not None:
            text.add_keywords(call, needs)
        else:
            bound = ", ".join(f"{n}={n}" for n in needs)
            text.replace(name, f"functools.partial({name.id}, {bound})")


def free_names(definition: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> list[str]:
    """The global names a top-level function or class reads, in order of first use.

    Found with ``symtable`` (Python's own scoping rules), so parameters, locals, comprehension
    variables and names of enclosing functions are not counted.
    """
    import symtable

    table = symtable.symtable(ast.unparse(definition), "<cell>", "exec")
    found: set[str] = set()
    pending = list(table.get_children())
    while pending:
        child = pending.pop()
        pending.extend(child.get_children())
        for symbol in child.get_symbols():
            if symbol.is_referenced() and symbol.is_global():
                found.add(symbol.get_name())
    for symbol in table.get_symbols():  # decorators, defaults and bases run at module level
        if symbol.is_referenced():
            found.add(symbol.get_name())
    found.discard(definition.name)
    order = [n.id for n in ast.walk(definition) if isinstance(n, ast.Name) and n.id in found]
    return list(dict.fromkeys(order))


def _refuse_hidden_names(
    notebook: Notebook,
    cell: ParsedCell,
    definition: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
) -> None:
    """``global``, ``nonlocal`` and ``exec`` in a function hide what it reads and writes."""
    for node in ast.walk(definition):
        construct = None
        if isinstance(node, ast.Global | ast.Nonlocal):
            construct = "global" if isinstance(node, ast.Global) else "nonlocal"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            construct = UNSUPPORTED_CALLS.get(node.func.id)
        if construct is not None:
            fix = (
                "Return the value from the function and assign it where it is called."
                if construct in ("global", "nonlocal")
                else "Write the code out, so that what it reads and writes can be seen."
            )
            raise ConversionError.at(
                notebook,
                cell.cell,
                node.lineno,
                construct,
                f"`{construct}` in `{definition.name}` cannot be converted safely: a node's "
                f"inputs and outputs are found by reading the code, and `{construct}` hides "
                f"them. {fix}",
            )


def changed_parameters(
    definition: ast.FunctionDef | ast.AsyncFunctionDef, needs: tuple[str, ...] = ()
) -> tuple[tuple[int, str], ...]:
    """The parameters a function changes in place (``df["x"] = ...``, ``items.append(...)``),
    as ``(position, name)``; a parameter rebound first (``df = df.copy()``) is not counted.

    ``needs`` are the notebook variables the function reads (and is given as keyword-only
    arguments): one it changes (``search.fit(X, y)`` on the notebook's ``search``) is given
    as ``(-1, name)``, the caller's variable of that name.
    """
    arguments = [*definition.args.posonlyargs, *definition.args.args]
    names = [a.arg for a in arguments] + [a.arg for a in definition.args.kwonlyargs]
    names += [n for n in needs if n not in names]
    rebound: set[str] = set()
    changed: set[str] = set()
    scope = analysis.Scope()
    for statement in definition.body:
        for event in analysis.analyze(statement, scope).events:
            if event.kind == EventKind.MUTATE and event.name in names and event.name not in rebound:
                changed.add(event.name)
            elif event.kind in BINDING:
                rebound.add(event.name)
    found = [(position, name) for position, name in enumerate(names) if name in changed]
    return tuple((-1, name) if name in needs else (p, name) for p, name in found)
