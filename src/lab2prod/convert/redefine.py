"""Functions and classes defined more than once: every version kept, each use the one live then.

Iterating in a notebook redefines things: ``class SimpleKMeans`` in one cell, a better one
further down. The generated module keeps every definition under a name of its own (the first
keeps the notebook's name, later ones ``SimpleKMeans_2``, ``SimpleKMeans_3``), and every use
refers to the definition live at that point of the notebook, as Python would have it:

- top-level code uses the definition made last before the statement;
- decorators, default values and base classes are evaluated when the definition runs, so they
  refer to what was live then;
- the body of a function looks its globals up when it is called, so a helper that calls a
  redefined function calls the version live at the call. When one helper is called both
  before and after a function it calls was redefined, it is kept twice: its own name with the
  first, a numbered copy (``score_2``) with the later one, preceded by a comment saying so.

``resolve_redefinitions`` edits the parsed cells in place (names only, so lines do not move)
and returns the extra copies, which ``module_code`` puts after the definition they follow.
When nothing is defined twice it changes nothing.
"""

from __future__ import annotations

import ast
import itertools
import re
from dataclasses import dataclass, field

from lab2prod.convert.cells import ParsedCell, SplitNotebook
from lab2prod.convert.source import CellText

Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(eq=False)
class _Def:
    """One definition statement of the notebook."""

    name: str
    versioned: str
    position: tuple[int, int]
    node: Definition
    cell: ParsedCell
    early: list[ast.Name] = field(default_factory=list)
    late: list[ast.Name] = field(default_factory=list)


@dataclass(eq=False)
class _Variant:
    """A definition as generated: its name and what each name it refers to resolves to."""

    definition: _Def
    name: str
    env: dict[str, _Def]
    renames: dict[int, str] = field(default_factory=dict)


def resolve_redefinitions(split: SplitNotebook) -> dict[tuple[int, int], list[ParsedCell]]:
    """Give every definition of a name defined twice a name of its own, and each use the
    definition live at that point.

    Args:
        split: The notebook's units; their cells are edited in place.

    Returns:
        Extra copies of helpers (see the module docstring), each parsed as a cell of its own,
        by the position ``(cell index, line)`` of the definition they go after.
    """
    cells = sorted(
        (cell for unit in split.units for cell in unit.cells if cell.tree is not None),
        key=lambda c: c.cell.index,
    )
    definitions = [
        _Def(statement.name, statement.name, (cell.cell.index, statement.lineno), statement, cell)
        for cell in cells
        for statement in cell.tree.body  # type: ignore[union-attr]
        if isinstance(statement, Definition)
    ]
    by_name: dict[str, list[_Def]] = {}
    for definition in definitions:
        by_name.setdefault(definition.name, []).append(definition)
    if all(len(found) == 1 for found in by_name.values()):
        return {}
    taken = _names_in(split)
    for name, found in by_name.items():
        numbers = (f"{name}_{n}" for n in itertools.count(2))
        for definition in found[1:]:
            definition.versioned = next(n for n in numbers if n not in taken)
            taken.add(definition.versioned)
    for definition in definitions:
        definition.early, definition.late = _references(definition.node, set(by_name))
    resolver = _Resolver(by_name, taken)
    edits: dict[int, CellText] = {id(cell): CellText(cell.python) for cell in cells}
    for cell in cells:
        for statement in cell.tree.body:  # type: ignore[union-attr]
            if isinstance(statement, Definition):
                continue
            position = (cell.cell.index, statement.lineno)
            for node in ast.walk(statement):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    variant = resolver.use(node.id, position)
                    if variant is not None and variant.name != node.id:
                        edits[id(cell)].replace(node, variant.name)
    for definition in definitions:
        resolver.default(definition)
    extras: dict[tuple[int, int], list[ParsedCell]] = {}
    for definition in definitions:
        first, *others = resolver.variants[id(definition)]
        _rename(edits[id(definition.cell)], first)
        for variant in others:
            after, text = _copy(variant, first)
            parsed = ast.parse(text)
            extra = ParsedCell(definition.cell.cell, text, parsed, [])
            extras.setdefault(after, []).append(extra)
    for cell in cells:
        cell.python = edits[id(cell)].render()
        cell.tree = ast.parse(cell.python)
    return extras


class _Resolver:
    """Which definition and which copy of it each use refers to, made on demand."""

    def __init__(self, by_name: dict[str, list[_Def]], taken: set[str]) -> None:
        self.by_name = by_name
        self.taken = taken
        self.variants: dict[int, list[_Variant]] = {}
        self._memo: dict[tuple[int, tuple[tuple[str, int], ...]], _Variant] = {}

    def live(self, name: str, position: tuple[int, int]) -> _Def | None:
        """The definition of ``name`` made last before ``position``."""
        before = [d for d in self.by_name.get(name, []) if d.position < position]
        return before[-1] if before else None

    def env(self, position: tuple[int, int]) -> dict[str, _Def]:
        """Every name's live definition at ``position`` (the first, for one not made yet)."""
        return {name: self.live(name, position) or found[0] for name, found in self.by_name.items()}

    def use(self, name: str, position: tuple[int, int]) -> _Variant | None:
        definition = self.live(name, position)
        if definition is None:
            return None
        return self.variant(definition, self.env(position))

    def default(self, definition: _Def) -> None:
        """A definition nothing uses still goes into the module, as it reads where it is."""
        if id(definition) not in self.variants:
            after = (definition.position[0], definition.position[1] + 1)
            self.variant(definition, self.env(after))

    def variant(self, definition: _Def, env: dict[str, _Def]) -> _Variant:
        reach = self._reach(definition, env)
        key = (id(definition), tuple(sorted((n, id(env[n])) for n in reach)))
        if key in self._memo:
            return self._memo[key]
        made = self.variants.setdefault(id(definition), [])
        if made:
            name = next(
                n for n in (f"{definition.name}_{k}" for k in itertools.count(2))
                if n not in self.taken
            )  # fmt: skip
            self.taken.add(name)
        else:
            name = definition.versioned
        variant = _Variant(definition, name, {n: env[n] for n in reach})
        self._memo[key] = variant
        made.append(variant)
        for reference in definition.late:  # looked up when the function runs
            target = self.variant(env[reference.id], env)
            variant.renames[id(reference)] = target.name
        for reference in definition.early:  # evaluated when the definition runs
            live = self.live(reference.id, definition.position)
            if live is not None:
                target = self.variant(live, self.env(definition.position))
                variant.renames[id(reference)] = target.name
        return variant

    def _reach(self, definition: _Def, env: dict[str, _Def]) -> set[str]:
        """The names a definition's bodies look up when they run, through what they call."""
        found: set[str] = set()
        pending = [definition]
        while pending:
            current = pending.pop()
            for reference in current.late:
                if reference.id not in found:
                    found.add(reference.id)
                    pending.append(env[reference.id])
        return found


def _rename(text: CellText, variant: _Variant) -> None:
    """Edit a definition where it stands: its name, and the names it refers to."""
    node = variant.definition.node
    if variant.name != node.name:
        line, start, end = _name_span(text, node)
        text.replace_columns(line, start, end, variant.name)
    for reference in ast.walk(node):
        if isinstance(reference, ast.Name):
            renamed = variant.renames.get(id(reference), reference.id)
            if renamed != reference.id:
                text.replace(reference, renamed)


def _copy(variant: _Variant, first: _Variant) -> tuple[tuple[int, int], str]:
    """A further copy's text, with a comment saying when it runs, and where it goes."""
    definition = variant.definition
    changed = sorted(
        (d for n, d in variant.env.items() if first.env.get(n) is not d),
        key=lambda d: d.position,
    )
    text = CellText(definition.cell.python)
    _rename(text, variant)
    lines = text.render().splitlines(keepends=True)
    decorators = [d.lineno for d in definition.node.decorator_list]
    source = "".join(
        lines[min([definition.node.lineno, *decorators]) - 1 : definition.node.end_lineno]
    )
    names = ", ".join(f"`{d.name}`" for d in changed)
    cell = changed[-1].cell.cell.code_number if changed else None
    comment = f"# `{definition.name}` as it runs once {names} is redefined (code cell {cell}).\n"
    after = changed[-1].position if changed else definition.position
    return after, comment + source


def _name_span(text: CellText, node: Definition) -> tuple[int, int, int]:
    """Where a definition's name is written: line, and start and end columns."""
    line = text.lines[node.lineno - 1]
    found = re.search(rf"\b(?:def|class)\s+({re.escape(node.name)})\b", line)
    assert found is not None, line
    return node.lineno, found.start(1), found.end(1)


def _names_in(split: SplitNotebook) -> set[str]:
    """Every name the notebook uses anywhere: a new name must be none of them."""
    found: set[str] = set()
    cells = [cell for unit in split.units for cell in unit.cells] + split.skipped
    if split.parameters is not None:
        cells.append(split.parameters)
    for cell in cells:
        if cell.tree is None:
            continue
        for node in ast.walk(cell.tree):
            if isinstance(node, ast.Name):
                found.add(node.id)
            elif isinstance(node, Definition):
                found.add(node.name)
            elif isinstance(node, ast.alias):
                found.add(node.asname or node.name.split(".")[0])
            elif isinstance(node, ast.arg):
                found.add(node.arg)
    return found


def _references(node: Definition, names: set[str]) -> tuple[list[ast.Name], list[ast.Name]]:
    """The uses of ``names`` in a definition: evaluated when it runs, and when it is called."""
    early: list[ast.Name] = []
    late: list[ast.Name] = []

    def visit(tree: ast.AST, local: frozenset[str], deferred: bool) -> None:
        if isinstance(tree, ast.Name):
            if isinstance(tree.ctx, ast.Load) and tree.id in names and tree.id not in local:
                (late if deferred else early).append(tree)
            return
        if isinstance(tree, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            arguments = tree.args
            for default in [*arguments.defaults, *arguments.kw_defaults]:
                if default is not None:
                    visit(default, local, deferred)
            if not isinstance(tree, ast.Lambda):
                for decorator in tree.decorator_list:
                    visit(decorator, local, deferred)
                everything = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
                everything += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
                for argument in everything:
                    if argument.annotation is not None:
                        visit(argument.annotation, local, deferred)
                if tree.returns is not None:
                    visit(tree.returns, local, deferred)
            body = [tree.body] if isinstance(tree, ast.Lambda) else tree.body
            inner = local | _parameters(arguments) | _bound(body)
            for child in body:
                visit(child, inner, True)
            return
        if isinstance(tree, ast.ClassDef):
            for expr in [*tree.decorator_list, *tree.bases, *(k.value for k in tree.keywords)]:
                visit(expr, local, deferred)
            own = _bound(tree.body)
            for child in tree.body:
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                    visit(child, local, deferred)  # methods do not see the class's names
                else:
                    visit(child, local | own, deferred)
            return
        if isinstance(tree, _COMPREHENSIONS):
            targets = frozenset(
                n.id for g in tree.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)
            )
            for child in ast.iter_child_nodes(tree):
                visit(child, local | targets, deferred)
            return
        for child in ast.iter_child_nodes(tree):
            visit(child, local, deferred)

    visit(node, frozenset(), False)
    return _unique(early), _unique(late)


def _unique(found: list[ast.Name]) -> list[ast.Name]:
    seen: set[int] = set()
    kept = []
    for name in found:
        if id(name) not in seen:
            seen.add(id(name))
            kept.append(name)
    return kept


def _parameters(arguments: ast.arguments) -> frozenset[str]:
    found = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    found += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
    return frozenset(a.arg for a in found)


def _bound(body: list[ast.AST]) -> frozenset[str]:
    """Names a scope's body binds itself (not inside nested scopes), less its globals."""
    found: set[str] = set()
    declared: set[str] = set()
    pending = list(body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            found.add(node.id)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            declared.update(node.names)
        elif isinstance(node, ast.alias):
            found.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            found.add(node.name)
        if isinstance(node, _SCOPES):
            if not isinstance(node, ast.Lambda):
                found.add(node.name)
            continue
        if isinstance(node, _COMPREHENSIONS):
            continue
        pending.extend(ast.iter_child_nodes(node))
    return frozenset(found - declared)
