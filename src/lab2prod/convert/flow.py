"""Which values cross from one unit to the next: objects, their versions, and who makes each.

Names are not datasets: ``b = a`` makes two names for one object, and ``df["x"] = 1`` in a later
section changes the object that section received. ``trace_flow`` follows objects through the
kept statements of every unit, in order. An object gets a new version whenever a unit changes
one that existed before it (through any of its names); each version has exactly one producer,
the unit that created or changed it, and a reader reads the version current when it starts.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection
from dataclasses import dataclass, field

from lab2prod.convert import datasets
from lab2prod.convert.analysis import Event, EventKind
from lab2prod.convert.cells import ParsedCell
from lab2prod.convert.effects import BUILTIN_NAMES
from lab2prod.convert.files import FileWrite
from lab2prod.convert.steps import CatalogRead, ModuleCode, Step, UnitCode
from lab2prod.errors import ConversionError, did_you_mean
from lab2prod.notebook import Notebook

EXTERNAL = -1
"""The producer of versions that come from outside the pipeline: catalog reads, parameters."""


@dataclass(eq=False)
class Obj:
    """One object of the notebook's run, as far as static analysis can tell.

    Attributes:
        base: The name it was first bound to (the stem of its datasets' names).
        origin: ``"unit"``, ``"read"`` (a literal read), ``"kernel"`` (``catalog.load``) or
            ``"parameter"``.
        producers: The unit that produced each version, in order (``EXTERNAL`` for the first
            version of a read or a parameter).
        type: Its statically inferred type, or ``None``.
        element_of: For a loop variable: the objects it iterates over.
        fitted_on: The name of the data it was last fitted on, for an estimator.
        read: The read or ``catalog.load`` that makes it, for ``read`` and ``kernel`` objects.
        write: The file write whose value it is: the node returns it, the catalog writes it.
    """

    base: str
    origin: str
    producers: list[int]
    type: str | None = None
    element_of: tuple[Obj, ...] = ()
    fitted_on: str | None = None
    read: CatalogRead | None = None
    write: FileWrite | None = None
    serial: int = field(default_factory=itertools.count().__next__)


@dataclass
class UnitFlow:
    """What one unit reads, makes and changes.

    Attributes:
        inputs: Each name read before the unit binds it, to the object and version read.
        env_end: Every name's object when the unit ends.
        bound: Names the unit binds.
        created: Objects the unit creates, in order.
        changed: Objects from before the unit that it changes in place, in order.
        versions: The version of each changed object that the unit produces (its index in
            the object's ``producers``): later units may change it again.
        results: Names the unit assigns at top level (the final unit's are results).
        shown: Objects (and versions) the unit's dropped display statements show: printed,
            displayed, or a cell's bare expression.
        module_reads: Imported names the unit reads as modules before it binds them itself:
            its node imports them first, as a name bound in a function is local to all of it.
        corrected: Variables the unit changes in place by a run's account (``mutations``).
    """

    inputs: dict[str, tuple[Obj, int]] = field(default_factory=dict)
    env_end: dict[str, Obj] = field(default_factory=dict)
    bound: set[str] = field(default_factory=set)
    created: list[Obj] = field(default_factory=list)
    changed: list[Obj] = field(default_factory=list)
    versions: dict[Obj, int] = field(default_factory=dict)
    results: list[str] = field(default_factory=list)
    shown: list[tuple[Obj, int]] = field(default_factory=list)
    module_reads: list[str] = field(default_factory=list)
    corrected: list[str] = field(default_factory=list)


def trace_flow(
    notebook: Notebook,
    module: ModuleCode,
    codes: list[UnitCode],
    skipped: list[ParsedCell],
    mutations: Collection[tuple[str, str]] = (),
) -> list[UnitFlow]:
    """Follow every object through the units' kept statements.

    ``mutations`` are changes the analysis cannot see but a run of the notebook showed
    (``--verify``): ``(unit, variable)``, the unit changes the object the variable holds when
    it starts. Each counts as a change in place at the unit's end, when the unit reads the
    variable and still holds that object then.

    Raises:
        ConversionError: A unit reads a name that no earlier unit defines: one defined only in
            a skipped cell, one defined later, or one never defined.
    """
    env: dict[str, Obj] = {
        name: Obj(name, "parameter", [EXTERNAL], module.parameter_types.get(name))
        for name in module.parameters
    }
    not_data = set(module.modules) | set(module.helpers) | BUILTIN_NAMES
    skipped_binds = _skipped_binds(skipped)
    flows = []
    for index, code in enumerate(codes):
        flow = UnitFlow()
        for read in code.embedded_reads:
            env[read.name] = _catalog_object(read)
        local = dict(env)
        shown: list[Obj] = []
        shows = {id(step) for step in code.shown}
        ordered: list[tuple[tuple[int, int], Step | tuple[str, ...]]] = [
            (s.position, s) for s in [*code.steps, *code.shown]
        ]
        ordered += code.imports
        for position, step in sorted(ordered, key=lambda entry: entry[0]):
            if not isinstance(step, Step):
                # `import x` after `x = ...`: from here on `x` is the module again.
                for name in step:
                    local.pop(name, None)
                    if name in flow.bound or name in flow.inputs:
                        code.kept_imports.add(position)  # the node holds it as a variable
                continue
            if id(step) in shows:
                assert step.facts is not None
                shown.extend(local[n] for n in step.facts.reads if n in local)
                continue
            if step.catalog is not None:
                local[step.catalog.name] = _catalog_object(step.catalog)
                flow.bound.discard(step.catalog.name)
                continue
            assert step.facts is not None
            # Types as the statement starts: `df = df.dropna()` reads the old `df`.
            types = {n: o.type for n, o in local.items() if o.type is not None}
            snapshot: dict[str, Obj] | None = None
            line = step.facts.node.lineno
            embedded = [
                code.replacements[id(c)] for c in step.facts.calls if id(c) in code.replacements
            ]
            for event in [
                *(Event(EventKind.READ, name, line) for name in embedded),
                *step.facts.events,
            ]:
                name = event.name
                if event.kind != EventKind.ALIAS or not event.together:
                    snapshot = None
                if event.kind == EventKind.READ:
                    if name in flow.bound or name in flow.inputs:
                        continue
                    if name in local:
                        obj = local[name]
                        flow.inputs[name] = (obj, len(obj.producers) - 1)
                    elif name in module.modules:
                        if name not in flow.module_reads:
                            flow.module_reads.append(name)
                    elif name not in not_data:
                        where = (step.cell, event.line)
                        raise _undefined(notebook, where, name, codes, index, skipped_binds, local)
                elif event.kind == EventKind.BIND:
                    _create(flow, local, name, Obj(name, "unit", [index]))
                elif event.kind == EventKind.ALIAS:
                    if event.together and snapshot is None:
                        snapshot = dict(local)
                    source = (snapshot if event.together else local).get(event.source or "")
                    if source is None:
                        _create(flow, local, name, Obj(name, "unit", [index]))
                    else:
                        local[name] = source
                        flow.bound.add(name)
                elif event.kind == EventKind.ELEMENT:
                    containers = tuple(
                        local[n] for n in (event.source or "").split(",") if n in local
                    )
                    _create(flow, local, name, Obj(name, "unit", [index], element_of=containers))
                elif event.kind == EventKind.MUTATE:
                    _change(flow, local.get(name), index)
                elif event.kind == EventKind.UNBIND:
                    local.pop(name, None)
                    flow.bound.add(name)
            if step.assigned is not None:
                target, value = step.assigned
                obj = local.get(target)
                if obj is not None and obj.type is None and obj in flow.created:
                    obj.type = datasets.infer_type(value, types, module.modules)
            if step.write is not None:
                step.write.obj = local[step.write.variable]
                step.write.obj.write = step.write
            for name, data in step.facts.fits.items():
                if name in local:
                    local[name].fitted_on = data
            flow.results.extend(n for n in step.top_binds if n not in flow.results)
        for unit, name in mutations:
            if unit != code.unit.name:
                continue
            if name not in flow.inputs and name in local and name not in flow.bound:
                # Changed through something the section holds (a list it is in, a pipeline
                # built from it): the node takes it too, copied with the rest.
                obj = local[name]
                flow.inputs[name] = (obj, len(obj.producers) - 1)
            if name in flow.inputs and local.get(name) is flow.inputs[name][0]:
                _change(flow, local[name], index)
                flow.corrected.append(name)
        for obj in flow.changed:
            obj.producers.append(index)
            flow.versions[obj] = len(obj.producers) - 1
        for obj in shown:  # the version the notebook showed: this unit's, if it made one
            entry = (obj, flow.versions.get(obj, len(obj.producers) - 1))
            if obj.producers[entry[1]] != EXTERNAL and entry not in flow.shown:
                flow.shown.append(entry)
        flow.env_end = local
        env = local
        flows.append(flow)
    return flows


def _catalog_object(read: CatalogRead) -> Obj:
    """What a catalog read gives: a file an earlier section wrote is that section's value,
    when read as it was written; read otherwise, it is a read of its own (same file)."""
    written = read.written
    if written is None or written.obj is None:
        return _read_object(read)
    written.reads.append(read)
    assert read.read is not None
    if datasets.READERS[read.read.function].dataset == written.dataset_type:
        return written.obj
    return _read_object(read)


def _read_object(read: CatalogRead) -> Obj:
    origin = "read" if read.read is not None else "kernel"
    value_type = datasets.read_type(read.read) if read.read is not None else None
    return Obj(read.name, origin, [EXTERNAL], value_type, read=read)


def _create(flow: UnitFlow, local: dict[str, Obj], name: str, obj: Obj) -> None:
    local[name] = obj
    flow.bound.add(name)
    flow.created.append(obj)


def _change(flow: UnitFlow, obj: Obj | None, index: int) -> None:
    """Record an in-place change of ``obj`` (and of what a loop variable iterates over)."""
    pending = [obj] if obj is not None else []
    seen: set[int] = set()
    while pending:
        obj = pending.pop()
        if obj.serial in seen:
            continue
        seen.add(obj.serial)
        made_here = obj.origin == "unit" and obj.producers == [index]
        if not made_here and obj not in flow.changed:
            flow.changed.append(obj)
        pending.extend(obj.element_of)


def _skipped_binds(skipped: list[ParsedCell]) -> dict[str, ParsedCell]:
    import ast

    found: dict[str, ParsedCell] = {}
    for cell in skipped:
        if cell.tree is None:
            continue
        for node in ast.walk(cell.tree):
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                found.setdefault(node.id, cell)
            elif isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
                found.setdefault(node.name, cell)
    return found


def _undefined(
    notebook: Notebook,
    where: tuple[ParsedCell, int],
    name: str,
    codes: list[UnitCode],
    index: int,
    skipped_binds: dict[str, ParsedCell],
    local: dict[str, Obj],
) -> Exception:
    cell, line = where
    if name in skipped_binds:
        where = skipped_binds[name].cell.code_number
        return ConversionError.at(
            notebook,
            cell.cell,
            line,
            "name defined in a skipped cell",
            f"`{name}` is read here but defined only in code cell {where}, which is tagged "
            "'skip'. Remove the 'skip' tag from that cell, or define the name in a cell that "
            "is converted.",
        )
    for later in codes[index:]:
        for step in later.steps:
            binds = step.facts.binds if step.facts is not None else {step.catalog.name}  # type: ignore[union-attr]
            if name in binds and (
                later is not codes[index] or step.cell.cell.index > cell.cell.index
            ):
                return ConversionError.at(
                    notebook,
                    cell.cell,
                    line,
                    "name read before it is defined",
                    f"`{name}` is read here but first defined in code cell "
                    f"{step.cell.cell.code_number}, further down. Move the definition up: a "
                    "pipeline runs the notebook's code top to bottom.",
                )
    hint = did_you_mean(name, local, sentence=True, code=True)
    hint = f" {hint}" if hint else ""
    if name == "catalog":
        hint = (
            " `catalog` from `%load_ext kedro.ipython` is converted only in "
            '`catalog.load("dataset")` calls.'
        )
    return ConversionError.at(
        notebook,
        cell.cell,
        line,
        "undefined name",
        f"`{name}` is read here but no earlier cell defines it (a NameError when the "
        f"notebook runs top to bottom).{hint}",
    )
