"""What each statement of a notebook cell reads, binds and changes, found with ``ast``.

``analyze`` turns one top-level statement into ``Facts``: the names it reads, binds and mutates,
in evaluation order (``Event``), and what kind of effect it has: none (a pure expression or
assignment), display (``print``, ``display``), a plot, a file write, or an effect that must be
kept. The plan (``plan.py``) decides from these facts which statements become node code, which
names cross sections, and which statements are dropped as display-only.

The rules are a model of common notebook code, not of Python: a call is pure when it is a method
that is not known to mutate (``df.groupby(...)``), or a function of a numeric library
(``pd.concat``, ``np.log``); it mutates its receiver when the method is a known mutator
(``append``, ``fit``) or has ``inplace=True``, or when its result is unused and the method is
not known to be pure (``mapie.conformalize(X, y)``, ``G.add_edge(1, 2)``). Anything else
(notebook functions, unknown callables) is kept as an effect, so the worst a wrong guess costs
is a statement kept.
"""

from __future__ import annotations

import ast
import enum
from dataclasses import dataclass, field
from typing import Any

from lab2prod.convert.effects import (
    ARGUMENT_MUTATING_METHODS,
    ARGUMENT_MUTATORS,
    FIT_METHODS,
    OUTSIDE_EFFECT_METHODS,
    UNSUPPORTED_CALLS,
    call_effect,
    dotted,
    imported_names,
    root_name,
    unused_call_changes,
)


class EventKind(enum.StrEnum):
    """What a statement does to a name (:attr:`Event.kind`)."""

    READ = "read"
    BIND = "bind"  # a new object
    ALIAS = "alias"  # name = source
    ELEMENT = "element"  # a loop variable over source
    MUTATE = "mutate"
    UNBIND = "unbind"


BINDING = frozenset({EventKind.BIND, EventKind.ALIAS, EventKind.ELEMENT, EventKind.UNBIND})
"""The event kinds after which a name refers to another object (or none)."""


class StatementKind(enum.StrEnum):
    """The shape of a top-level statement (:attr:`Facts.kind`)."""

    IMPORT = "import"
    DEF = "def"  # function or class
    ASSIGN = "assign"  # to names only
    EXPR = "expr"
    OTHER = "other"


class Effect(enum.StrEnum):
    """What running a statement or call does beyond binding names (:attr:`Facts.effect`)."""

    NONE = "none"  # a pure expression or assignment
    DISPLAY = "display"
    PLOT = "plot"
    WRITE = "write"
    EFFECT = "effect"  # must be kept


@dataclass(frozen=True)
class Event:
    """One thing a statement does to a name, in evaluation order.

    Attributes:
        kind: What happens to the name (:class:`EventKind`): read, bound to a new object,
            aliased (``name = source``), a loop variable over ``source``, mutated or unbound.
        name: The name.
        line: The line within the cell, from 1.
        source: For ``alias``: the other name; for ``element``: the names of what the loop
            iterates over, comma-separated (``zip(axes, models.items())``: ``axes,models``).
        together: An alias of a tuple assignment (``a, b = b, a``): its source is looked up
            as it was before the assignment's first alias.
    """

    kind: EventKind
    name: str
    line: int
    source: str | None = None
    together: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", EventKind(self.kind))  # a misspelt kind fails here


@dataclass
class Scope:
    """What the analysis knows about names beyond one statement.

    Attributes:
        modules: Import-bound name to the dotted thing it imports (``pd`` -> ``pandas``).
        helpers: Notebook functions and classes (module level in the generated code) to the
            notebook variables each one reads, which it is given as keyword arguments.
        plot_names: Names that hold plot objects (``fig``, ``ax``) at this point.
        kernel_catalog: ``catalog`` is the one ``%load_ext kedro.ipython`` injects.
        changes_arguments: Notebook functions that change some of their arguments in place,
            to those parameters as ``(position, name)``.
    """

    modules: dict[str, str] = field(default_factory=dict)
    helpers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    changes_arguments: dict[str, tuple[tuple[int, str], ...]] = field(default_factory=dict)
    plot_names: set[str] = field(default_factory=set)
    kernel_catalog: bool = False


@dataclass(frozen=True)
class Unsupported:
    """A construct that cannot be converted safely, where it is."""

    line: int
    construct: str


@dataclass(eq=False)
class Facts:
    """What one statement does.

    Attributes:
        node: The statement.
        kind: The statement's shape (:class:`StatementKind`): an import, a ``def`` (function
            or class), an assignment to names only, an expression, or other.
        effect: What it does beyond binding names (:class:`Effect`): none, display, plot,
            write or an effect that must be kept. Set to anything else, it raises.
        events: What it does to names, in order (nested bodies included).
        children: For compound statements, the facts of each body's statements.
        helper_uses: Every ``Name`` node that refers to a notebook function, with its call when
            it is the called function.
        calls: Every call of the statement, for the plan to recognise data reads.
        fits: Names whose object is fitted here, to the name of the data they are fitted on.
        unsupported: Constructs that cannot be converted.
        header_pure: For compound statements: whether the header (loop iterable, test,
            context managers) has no effect but display or plots.
    """

    node: ast.stmt
    kind: StatementKind
    effect: Effect
    events: list[Event]
    children: list[list[Facts]]
    helper_uses: list[tuple[ast.Name, ast.Call | None]]
    calls: list[ast.Call]
    fits: dict[str, str | None]
    unsupported: list[Unsupported]
    header_pure: bool = True

    def __setattr__(self, name: str, value: Any) -> None:
        # The plan changes an effect after the analysis: a misspelt kind fails here, not later
        # as a statement silently kept or dropped.
        if name == "kind":
            value = StatementKind(value)
        elif name == "effect":
            value = Effect(value)
        super().__setattr__(name, value)

    @property
    def reads(self) -> list[str]:
        """Names read, in order, once each."""
        return list(dict.fromkeys(e.name for e in self.events if e.kind == EventKind.READ))

    @property
    def binds(self) -> set[str]:
        """Names bound or unbound."""
        return {e.name for e in self.events if e.kind in BINDING}

    @property
    def mutates(self) -> set[str]:
        """Names whose object is changed in place."""
        return {e.name for e in self.events if e.kind == EventKind.MUTATE}


def analyze(statement: ast.stmt, scope: Scope) -> Facts:
    """The facts of one statement of a cell.

    Args:
        statement: A statement of the cell's module.
        scope: Imports, notebook functions and plot objects known at this point; a plot
            assignment adds its targets to ``scope.plot_names``.

    Returns:
        What the statement reads, binds and changes, and its kind of effect.
    """
    walker = _Walker(scope)
    walker.statement(statement)
    if isinstance(statement, ast.Import | ast.ImportFrom):
        kind = StatementKind.IMPORT
    elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        kind = StatementKind.DEF
    elif isinstance(statement, ast.Assign | ast.AnnAssign | ast.AugAssign) and all(
        _only_names(t) for t in _targets(statement)
    ):
        kind = StatementKind.ASSIGN
    elif isinstance(statement, ast.Expr):
        kind = StatementKind.EXPR
    else:
        kind = StatementKind.OTHER
    effect = _effect(statement, kind, walker, scope)
    value = getattr(statement, "value", None)
    if kind == StatementKind.ASSIGN and isinstance(value, ast.expr):
        root = root_name(value, through_calls=True)
        if root is not None and root in scope.plot_names:  # `ax = axes[0]`: a plot object too
            effect = Effect.PLOT
    if effect == Effect.PLOT and kind == StatementKind.ASSIGN:
        scope.plot_names.update(e.name for e in walker.events if e.kind == EventKind.BIND)
    elif kind in (StatementKind.ASSIGN, StatementKind.OTHER):
        scope.plot_names.difference_update(
            e.name for e in walker.events if e.kind == EventKind.BIND
        )
    return Facts(
        statement,
        kind,
        effect,
        walker.events,
        walker.children,
        walker.helper_uses,
        walker.calls,
        walker.fits,
        walker.unsupported,
        walker.header_pure(),
    )


class _Walker:
    """Walks one statement in evaluation order, collecting events and call effects."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.events: list[Event] = []
        self.children: list[list[Facts]] = []
        self.helper_uses: list[tuple[ast.Name, ast.Call | None]] = []
        self.calls: list[ast.Call] = []
        self.fits: dict[str, str | None] = {}
        self.unsupported: list[Unsupported] = []
        self.call_effects: list[Effect] = []
        self._locals: list[set[str]] = []  # comprehension and lambda scopes
        self._header: tuple[int, int] | None = None  # call effects and events before bodies

    def header_pure(self) -> bool:
        calls, events = self._header or (len(self.call_effects), len(self.events))
        mutates = any(e.kind == EventKind.MUTATE for e in self.events[:events])
        return not mutates and set(self.call_effects[:calls]) <= {
            Effect.NONE,
            Effect.DISPLAY,
            Effect.PLOT,
        }

    def event(
        self,
        kind: EventKind,
        name: str,
        line: int,
        source: str | None = None,
        *,
        together: bool = False,
    ) -> None:
        if kind == EventKind.READ and any(name in names for names in self._locals):
            return
        self.events.append(Event(kind, name, line, source, together))

    # statements --------------------------------------------------------------------------

    def statement(self, node: ast.stmt) -> None:
        line = node.lineno
        if isinstance(node, ast.Assign):
            self.expr(node.value)
            self._aliases(node.targets, node.value, line)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.expr(node.value)
                self._aliases([node.target], node.value, line)
            self.expr(node.annotation)
        elif isinstance(node, ast.AugAssign):
            self.expr(node.value)
            if isinstance(node.target, ast.Name):
                self.event(EventKind.READ, node.target.id, line)
                self.event(EventKind.BIND, node.target.id, line)
            else:
                self.target(node.target, line)
        elif isinstance(node, ast.For | ast.AsyncFor):
            self.expr(node.iter)
            containers = _containers(node.iter)
            for name in _names(node.target):
                self.event(EventKind.ELEMENT, name, line, ",".join(containers))
            if set(containers) & self.scope.plot_names:  # `for ax in axes.flat`: plot objects
                self.scope.plot_names.update(_names(node.target))
            self.bodies(node.body, node.orelse)
        elif isinstance(node, ast.While | ast.If):
            self.expr(node.test)
            self.bodies(node.body, node.orelse)
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                self.expr(item.context_expr)
                if item.optional_vars is not None:
                    self.target(item.optional_vars, line)
            self.bodies(node.body)
        elif isinstance(node, ast.Try | ast.TryStar):
            self.bodies(node.body)
            for handler in node.handlers:
                if handler.type is not None:
                    self.expr(handler.type)
                if handler.name:
                    self.event(EventKind.BIND, handler.name, handler.lineno)
                self.bodies(handler.body)
            self.bodies(node.orelse, node.finalbody)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            self.definition(node)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.event(EventKind.UNBIND, target.id, line)
                else:
                    self.target(target, line)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if any(alias.name == "*" for alias in node.names):
                self.unsupported.append(Unsupported(line, "star import"))
            for name in imported_names(node):
                self.event(EventKind.BIND, name, line)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            construct = "global" if isinstance(node, ast.Global) else "nonlocal"
            self.unsupported.append(Unsupported(line, construct))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            # A call whose result is unused runs for its effect: unless its method is known
            # not to change anything, it changes the notebook variable it is called on.
            self.expr(node.value)
            changed = unused_call_changes(
                node.value, self.scope.modules, self.scope.helpers, self.scope.plot_names
            )
            kernel = changed == "catalog" and self.scope.kernel_catalog
            if changed is not None and not kernel:
                self.call_effects[-1] = Effect.EFFECT  # the outermost call is analysed last
                if node.value.func.attr not in OUTSIDE_EFFECT_METHODS:  # type: ignore[attr-defined]
                    self.event(EventKind.MUTATE, changed, line)
        else:  # Expr, Return, Raise, Assert, Match, Pass, ...
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expr(child)
                elif isinstance(child, ast.stmt):
                    self.statement(child)
                elif isinstance(child, ast.match_case):
                    self.match_case(child)

    def match_case(self, case: ast.match_case) -> None:
        for node in ast.walk(case.pattern):
            name = getattr(node, "name", None)
            if isinstance(name, str):
                self.event(EventKind.BIND, name, case.pattern.lineno)
        if case.guard is not None:
            self.expr(case.guard)
        self.bodies(case.body)

    def bodies(self, *bodies: list[ast.stmt]) -> None:
        if self._header is None:
            self._header = (len(self.call_effects), len(self.events))
        for body in bodies:
            if not body:
                continue
            facts = [analyze(statement, self.scope) for statement in body]
            self.children.append(facts)
            for fact in facts:
                self.events.extend(fact.events)
                self.helper_uses.extend(fact.helper_uses)
                self.calls.extend(fact.calls)
                self.fits.update(fact.fits)
                self.unsupported.extend(fact.unsupported)
                self.call_effects.append(fact.effect)

    def definition(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        for decorator in node.decorator_list:
            self.expr(decorator)
        if isinstance(node, ast.ClassDef):
            for base in [*node.bases, *(k.value for k in node.keywords)]:
                self.expr(base)
        else:
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                if default is not None:
                    self.expr(default)
        for inner in ast.walk(node):
            if isinstance(inner, ast.Global | ast.Nonlocal):
                construct = "global" if isinstance(inner, ast.Global) else "nonlocal"
                self.unsupported.append(Unsupported(inner.lineno, construct))
            elif (
                isinstance(inner, ast.Call)
                and isinstance(inner.func, ast.Name)
                and inner.func.id in UNSUPPORTED_CALLS
            ):
                self.unsupported.append(Unsupported(inner.lineno, UNSUPPORTED_CALLS[inner.func.id]))
        self.event(EventKind.BIND, node.name, node.lineno)

    def target(self, target: ast.expr, line: int) -> None:
        """Bind a target; ``a[i] = ...`` and ``a.x = ...`` mutate ``a`` instead."""
        if isinstance(target, ast.Name):
            self.event(EventKind.BIND, target.id, line)
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self.target(element, line)
        elif isinstance(target, ast.Starred):
            self.target(target.value, line)
        else:
            self.expr(target.value if isinstance(target, ast.Attribute) else target)
            root = root_name(target)
            if root is not None:
                self.event(EventKind.MUTATE, root, line)

    def _aliases(self, targets: list[ast.expr], value: ast.expr, line: int) -> None:
        """``b = a`` binds ``b`` to ``a``'s object; ``a, b = b, a`` swaps; others bind anew."""
        for target in targets:
            if isinstance(target, ast.Name) and isinstance(value, ast.Name):
                self.event(EventKind.ALIAS, target.id, line, value.id)
            elif (
                isinstance(target, ast.Tuple | ast.List)
                and isinstance(value, ast.Tuple | ast.List)
                and len(target.elts) == len(value.elts)
                and all(isinstance(e, ast.Name) for e in [*target.elts, *value.elts])
            ):
                for element, source in zip(target.elts, value.elts, strict=True):
                    self.event(EventKind.ALIAS, element.id, line, source.id, together=True)  # type: ignore[attr-defined]
            else:
                self.target(target, line)

    # expressions -------------------------------------------------------------------------

    def expr(self, node: ast.expr) -> None:
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                self.event(EventKind.READ, node.id, node.lineno)
                if node.id in self.scope.helpers:
                    call = next((c for c in self.calls if c.func is node), None)
                    self.helper_uses.append((node, call))
                    for needed in self.scope.helpers[node.id]:
                        self.event(EventKind.READ, needed, node.lineno)
                    self.call_effects.append(Effect.EFFECT)
            else:
                self.event(EventKind.BIND, node.id, node.lineno)
        elif isinstance(node, ast.NamedExpr):
            self.expr(node.value)
            self.event(EventKind.BIND, node.target.id, node.lineno)
        elif isinstance(node, ast.Call):
            self.call(node)
        elif isinstance(node, ast.Lambda):
            self._locals.append({a.arg for a in _all_args(node.args)})
            self.expr(node.body)
            self._locals.pop()
        elif isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            self._locals.append(set())
            for generator in node.generators:
                self.expr(generator.iter)
                self._locals[-1].update(_names(generator.target))
                for condition in generator.ifs:
                    self.expr(condition)
            elements = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            for element in elements:
                self.expr(element)
            self._locals.pop()
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expr(child)
                elif isinstance(child, ast.keyword):
                    self.expr(child.value)
                elif isinstance(child, ast.comprehension):  # pragma: no cover - handled above
                    self.expr(child.iter)

    def call(self, node: ast.Call) -> None:
        self.calls.append(node)
        self.expr(node.func)
        for argument in [*node.args, *(k.value for k in node.keywords)]:
            self.expr(argument)
        effect, mutated = call_effect(
            node, self.scope.modules, self.scope.helpers, self.scope.plot_names
        )
        self.call_effects.append(Effect(effect))  # effects.py names effects as text
        if isinstance(node.func, ast.Name) and node.func.id in UNSUPPORTED_CALLS:
            self.unsupported.append(Unsupported(node.lineno, UNSUPPORTED_CALLS[node.func.id]))
        if isinstance(node.func, ast.Name):
            for name in self._changed_arguments(node, node.func.id):
                self.event(EventKind.MUTATE, name, node.lineno)
        function = dotted(node.func, self.scope.modules)
        method = node.func.attr if isinstance(node.func, ast.Attribute) else None
        if node.args and (
            function in ARGUMENT_MUTATORS
            or (function is None and method in ARGUMENT_MUTATING_METHODS)
        ):
            changed = root_name(node.args[0])
            if changed is not None and changed not in self.scope.modules:
                self.event(EventKind.MUTATE, changed, node.lineno)
        if mutated is not None:
            self.event(EventKind.MUTATE, mutated, node.lineno)
            method = node.func.attr if isinstance(node.func, ast.Attribute) else ""
            if method in FIT_METHODS:
                first = node.args[0] if node.args else None
                self.fits[mutated] = first.id if isinstance(first, ast.Name) else None

    def _changed_arguments(self, node: ast.Call, function: str) -> list[str]:
        """Names passed to a notebook function where it changes that parameter in place."""
        changed = []
        for position, parameter in self.scope.changes_arguments.get(function, ()):
            if position < 0:  # a notebook variable the function changes: the caller's
                changed.append(parameter)
                continue
            passed = node.args[position] if position < len(node.args) else None
            for keyword in node.keywords:
                if keyword.arg == parameter:
                    passed = keyword.value
            root = root_name(passed) if passed is not None else None
            if root is not None:
                changed.append(root)
        return changed


def _effect(statement: ast.stmt, kind: StatementKind, walker: _Walker, scope: Scope) -> Effect:
    """Combine the call effects of a statement into its own."""
    effects = walker.call_effects
    mutates = [e for e in walker.events if e.kind == EventKind.MUTATE]
    if kind in (StatementKind.IMPORT, StatementKind.DEF):
        return Effect.EFFECT
    top = statement.value if isinstance(statement, ast.Expr | ast.Assign) else None
    if isinstance(top, ast.Call) and effects:
        own = walker.call_effects[-1]  # the outermost call is analysed last
        if own == Effect.PLOT:
            return Effect.PLOT
        if own in (Effect.DISPLAY, Effect.WRITE) and all(
            e in (Effect.NONE, Effect.DISPLAY) for e in effects[:-1]
        ):
            return own if kind == StatementKind.EXPR else Effect.EFFECT
    if mutates or any(e != Effect.NONE for e in effects):
        if all(e.name in scope.plot_names for e in mutates) and set(effects) <= {
            Effect.NONE,
            Effect.PLOT,
        }:
            return Effect.PLOT if effects else Effect.EFFECT
        return Effect.EFFECT
    return Effect.NONE if kind in (StatementKind.EXPR, StatementKind.ASSIGN) else Effect.EFFECT


_ITERATING = frozenset({"zip", "enumerate", "sorted", "reversed", "list", "tuple", "iter"})
_VIEWS = frozenset({"items", "values", "keys"})


def _containers(iterable: ast.expr) -> list[str]:
    """The variables a loop's elements come from: ``zip(a, b.items())`` -> ``a``, ``b``."""
    if isinstance(iterable, ast.Call):
        func = iterable.func
        if isinstance(func, ast.Name) and func.id in _ITERATING:
            return [name for argument in iterable.args for name in _containers(argument)]
        if isinstance(func, ast.Attribute) and func.attr in _VIEWS:
            return _containers(func.value)
    root = root_name(iterable, through_calls=True)
    return [root] if root is not None else []


def _targets(statement: ast.Assign | ast.AnnAssign | ast.AugAssign) -> list[ast.expr]:
    return statement.targets if isinstance(statement, ast.Assign) else [statement.target]


def _only_names(target: ast.expr) -> bool:
    if isinstance(target, ast.Name):
        return True
    if isinstance(target, ast.Tuple | ast.List):
        return all(_only_names(e) for e in target.elts)
    return isinstance(target, ast.Starred) and _only_names(target.value)


def _names(target: ast.expr) -> list[str]:
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]


def _all_args(args: ast.arguments) -> list[ast.arg]:
    found = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    return found + [a for a in (args.vararg, args.kwarg) if a is not None]
