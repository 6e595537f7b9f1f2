"""The plan of a conversion: nodes with inputs and outputs, dataset names, catalog entries.

``plan_conversion`` is the whole analysis of a notebook, as data: ``codegen`` renders it as text
and ``verify`` uses its ``checks`` to compare the pipeline with the notebook. Tests inspect the
plan; golden files pin the text.

Dataset names are chosen in ``naming.py``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab2prod.convert.analysis import Effect
from lab2prod.convert.assumptions import Boundary, boundaries, static_assumptions
from lab2prod.convert.cells import Unit, split_notebook
from lab2prod.convert.flow import Obj, UnitFlow, trace_flow
from lab2prod.convert.module import ModuleCode
from lab2prod.convert.naming import Naming
from lab2prod.convert.steps import Drop, UnitCode, render_unit, select_code
from lab2prod.errors import ConversionError
from lab2prod.notebook import Notebook


@dataclass(frozen=True)
class NodeInput:
    """An argument of a node function, the dataset it is given, and its type hint."""

    argument: str
    dataset: str
    hint: str | None


@dataclass(frozen=True)
class NodeOutput:
    """A value a node function returns, the dataset it becomes, and its type hint."""

    variable: str
    dataset: str
    hint: str | None


@dataclass(frozen=True)
class Check:
    """What ``--verify`` compares: a dataset and the notebook variable it must equal.

    Attributes:
        dataset: The dataset.
        node: The node that produces it, or ``None`` for a catalog read.
        variable: The notebook variable holding the value at the end of the section.
        after_cell: The notebook cell (``Cell.index``) after which the variable holds it.
        predict_on: For an estimator: the variable it was fitted on, to compare predictions.
    """

    dataset: str
    node: str | None
    variable: str
    after_cell: int
    predict_on: str | None


@dataclass(frozen=True)
class NodePlan:
    """One node: a pure function made from a section's code.

    Attributes:
        name: The function's and the node's name.
        heading: The section's heading, if it has one.
        markdown: The section's markdown (the docstring's text).
        inputs: Arguments, in order of first use.
        outputs: Returned values, in order.
        copies: Arguments the code changes in place, copied first so inputs stay untouched.
        aliases: ``(name, argument)``: a second notebook name for the same input object.
        body: The section's kept code, not indented.
        drops: What was left out of the section, for the docstring.
        cells: The code cell numbers the node comes from.
        figures: The variable that collects the figures the node drew (its last output), or
            ``None`` when it draws none.
        pyplot: The name ``matplotlib.pyplot`` has in the generated module.
        imports: Imports the node makes first: of names it reads as modules and then binds
            as variables (a name bound in a function is local to all of it).
    """

    name: str
    heading: str | None
    markdown: str
    inputs: tuple[NodeInput, ...]
    outputs: tuple[NodeOutput, ...]
    copies: tuple[str, ...]
    aliases: tuple[tuple[str, str], ...]
    body: str
    drops: tuple[Drop, ...]
    cells: tuple[int, ...]
    figures: str | None = None
    pyplot: str = "plt"
    imports: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConversionPlan:
    """Everything the generated files say, as data.

    Attributes:
        pipeline: The pipeline's name, which is also the Kedro namespace of its nodes and of
            the datasets it makes (``<pipeline>.<name>``).
        package: The project's package.
        notebook: The notebook's path relative to the project root, POSIX style.
        title: The notebook's H1 title.
        imports: Import statements of the notebook, deduplicated, in order.
        helpers: Source of the notebook's functions and classes, in order.
        nodes: The nodes in notebook order.
        catalog: New catalog entries, by full dataset name: reads, then results.
        parameters: The ``parameters`` cell's defaults.
        inputs: Datasets the pipeline reads (catalog and parameters).
        results: Datasets of the final node that nothing reads: saved by the catalog.
        checks: What ``--verify`` compares.
        left_out: Sections that became no node, and why.
        module_drops: What was left out of code outside any node (setup code).
        warnings: What the user should know but that does not stop the conversion: a file
            the notebook reads that does not exist, with where it was looked for.
        boundaries: What the plan assumes each variable holds at each section's end, for
            ``--verify`` to check on a run.
        assumptions: Where the plan assumes an object unchanged without knowing (a call the
            analysis does not model): unproven until ``--verify`` checks them.
        mutations: Changes in place that a run of the notebook showed and the plan follows:
            ``(unit, variable)``; one that no longer applies (the section renamed, the
            variable no longer read there) is dropped, and so leaves the record.
        loads: The project datasets the notebook loads (``catalog.load("name")``), to the
            variable, code cell, line and statement of the first load.
    """

    pipeline: str
    package: str
    notebook: str
    title: str | None
    imports: tuple[str, ...]
    helpers: tuple[str, ...]
    nodes: tuple[NodePlan, ...]
    catalog: dict[str, dict[str, Any]]
    parameters: dict[str, Any]
    inputs: tuple[str, ...]
    results: tuple[str, ...]
    checks: tuple[Check, ...]
    left_out: tuple[str, ...]
    module_drops: tuple[Drop, ...]
    warnings: tuple[str, ...] = ()
    boundaries: tuple[Boundary, ...] = ()
    assumptions: tuple[str, ...] = ()
    mutations: tuple[tuple[str, str], ...] = ()
    loads: dict[str, tuple[str, int, int, str]] = dataclasses.field(default_factory=dict)


def plan_conversion(
    notebook: Notebook,
    *,
    pipeline: str,
    package: str,
    project_path: Path,
    existing_catalog: Mapping[str, Mapping[str, Any]] | None = None,
    mutations: Collection[tuple[str, str]] = (),
) -> ConversionPlan:
    """Plan the pipeline a notebook converts into.

    Args:
        notebook: The notebook, as read by ``read_notebook``.
        pipeline: The pipeline's name (a Python identifier).
        package: The project's package name.
        project_path: The project root: literal paths in the notebook are relative to the
            notebook's folder and become relative to this.
        existing_catalog: The project's catalog entries outside this pipeline's own file.
        mutations: Changes in place the analysis cannot see, found by a run of the notebook
            (``--verify``): ``(unit, variable)``; see ``flow.trace_flow``.

    Returns:
        The plan.

    Raises:
        ConversionError: The notebook holds something that cannot be converted safely.
    """
    existing = dict(existing_catalog or {})
    split = split_notebook(notebook)
    module, codes = select_code(notebook, split, _relative(notebook, project_path)[1])
    for code in codes:
        if code.has_code and (code.unit.name in module.helpers or code.unit.name in module.modules):
            raise ConversionError.at(
                notebook,
                code.unit.cells[0].cell,
                None,
                "node name",
                f"this section's node would be named `{code.unit.name}`, which the notebook "
                "already uses for a function or an import. Rename the heading, or tag the "
                "section's first code cell `node:<another name>`.",
            )
    flows = trace_flow(notebook, module, codes, split.skipped, mutations)
    helpers = {name: helper.needs for name, helper in module.helpers.items()}
    for code in codes:
        if code.kept_imports:  # imports that rebind a variable stay in the node's code too
            code.body = render_unit(code, helpers)
    with_node = [i for i, code in enumerate(codes) if code.has_code]
    if not with_node:
        raise ConversionError.at(
            notebook,
            None,
            None,
            "nothing to convert",
            "every section only displays (plots, printed tables, bare expressions): there is "
            "nothing for a pipeline to compute.",
        )
    results = _all_results(codes, flows, with_node)
    naming = Naming(pipeline, existing, _relative(notebook, project_path))
    versions = _needed(flows, with_node, results)
    for obj, version in versions:
        naming.name(obj, version, codes)
    pyplot = _pyplot(module, flows) if any(codes[i].plots for i in with_node) else None
    nodes, checks, idle = [], [], []
    for index in with_node:
        node, node_checks = _node(codes[index], flows[index], naming, versions, module)
        if codes[index].plots and pyplot is not None:
            node = _with_figures(node, naming, pyplot[0], flows)
        pure = all(s.facts.effect == Effect.NONE for s in codes[index].steps if s.facts is not None)
        if not node.outputs and (pure or not node.inputs):
            # Only names existing values (`left = orders`), or touches no data at all (a seed,
            # display options): a node needs inputs or outputs, and this one has no use.
            idle.append(_section(codes[index]))
            continue
        nodes.append(node)
        checks.extend(node_checks)
    checks.extend(_read_checks(codes, flows, naming))
    result_names = tuple(naming.dataset(obj, version) for obj, version in results)
    for (obj, _), name in zip(results, result_names, strict=True):
        if obj.write is None:  # a written file has its entry already
            naming.add_result(name, obj.type)
    figures = tuple(o.dataset for n in nodes for o in n.outputs if o.dataset in naming.figures)
    result_names += figures
    produced = {o.dataset for n in nodes for o in n.outputs}
    inputs = sorted({i.dataset for n in nodes for i in n.inputs} - produced)
    setup = codes[0] if codes[0].unit.setup and not codes[0].has_code else None
    return ConversionPlan(
        pipeline=pipeline,
        package=package,
        notebook=_relative(notebook, project_path)[0],
        title=notebook.title,
        imports=tuple(module.imports) + (pyplot[1] if pyplot else ()),
        helpers=tuple(helper.text for helper in module.helpers.values()),
        nodes=tuple(nodes),
        catalog=naming.catalog,
        parameters=module.parameters,
        inputs=tuple(inputs),
        results=result_names,
        checks=tuple(sorted(checks, key=lambda c: (c.after_cell, c.dataset))),
        left_out=tuple(text for _, text in sorted(_left_out(codes) + idle)),
        module_drops=tuple(setup.drops) if setup is not None else (),
        warnings=tuple(_missing_files(notebook, codes, project_path)),
        boundaries=boundaries(codes, flows),
        assumptions=static_assumptions(codes, flows, module),
        mutations=tuple(
            sorted(
                {
                    (code.unit.name, n)
                    for code, f in zip(codes, flows, strict=True)
                    for n in f.corrected
                }
            )
        ),
        loads=_loads(codes),
    )


def _all_results(
    codes: list[UnitCode], flows: list[UnitFlow], with_node: list[int]
) -> list[tuple[Obj, int]]:
    """The pipeline's results: values no later node reads that the notebook ends with.

    What the final unit assigns at top level or changes, what a unit that draws computes, and
    every value the notebook shows (printed, displayed, a cell's bare expression).
    """
    found: list[tuple[Obj, int]] = []
    for index in with_node:
        # A value shown and then rebound in its own section (`out = fit(); print(out); out =
        # fit()`) is held by no name when the section ends, in the notebook as in the node.
        candidates = [e for e in flows[index].shown if _held(flows[index], e[0])]
        # A file the notebook writes is written by `kedro run`, whether anything reads it.
        candidates += [(o, 0) for o in flows[index].created if o.write is not None]
        if codes[index].final or codes[index].plots:
            candidates += _results(flows[index], index)
        candidates += _unread(codes[index], flows[index])
        read_later = {entry for later in flows[index + 1 :] for entry in later.inputs.values()}
        found.extend(e for e in candidates if e not in read_later and e not in found)
    return found


def _unread(code: UnitCode, flow: UnitFlow) -> list[tuple[Obj, int]]:
    """What a kept assignment binds that nothing in its section reads afterwards.

    It is kept for its effect (``best = tune()``): the value is a result, not a local that
    nothing uses.
    """
    steps = [step for step in code.steps if step.facts is not None]
    found = []
    for position, step in enumerate(steps):
        for name in step.top_binds:
            if any(name in later.facts.reads for later in steps[position + 1 :]):  # type: ignore[union-attr]
                continue
            obj = flow.env_end.get(name)
            if obj is None or obj not in flow.created:
                continue
            entry = (obj, 0)
            if entry not in found:
                found.append(entry)
    return found


def _held(flow: UnitFlow, obj: Obj) -> bool:
    """Whether a name of the unit holds ``obj`` when it ends (as ``_variable`` looks it up)."""
    return any(o is obj and (n in flow.bound or n in flow.inputs) for n, o in flow.env_end.items())


def _results(flow: UnitFlow, unit: int) -> list[tuple[Obj, int]]:
    """What a unit assigns at top level or changes, in the versions it leaves."""
    found: list[tuple[Obj, int]] = []
    names = list(flow.results) + [
        name for name, obj in flow.env_end.items() if obj in flow.changed and name in flow.inputs
    ]
    for name in names:
        obj = flow.env_end.get(name)
        if obj is None or obj.producers[-1] != unit:
            continue
        entry = (obj, len(obj.producers) - 1)
        if entry not in found:
            found.append(entry)
    return found


def _pyplot(module: ModuleCode, flows: list[UnitFlow]) -> tuple[str, tuple[str, ...]]:
    """The notebook's name for ``matplotlib.pyplot``, and the import to add when it has none."""
    for name, target in sorted(module.modules.items()):
        if target == "matplotlib.pyplot":
            return name, ()
    taken = _taken(module, flows)
    name = next(n for n in ("plt", "pyplot", "_plt") if n not in taken)
    return name, (f"import matplotlib.pyplot as {name}",)


def _taken(module: ModuleCode, flows: list[UnitFlow]) -> set[str]:
    names = set(module.modules) | set(module.helpers) | set(module.parameters)
    for flow in flows:
        names |= flow.bound | set(flow.inputs)
    return names


def _with_figures(node: NodePlan, naming: Naming, pyplot: str, flows: list[UnitFlow]) -> NodePlan:
    """The node returning the figures it drew, for the catalog to save."""
    local = {i.argument for i in node.inputs} | {o.variable for o in node.outputs}
    variable = next(
        v
        for v in ("figures", "_figures", f"_{node.name}_figures")
        if v not in local | _bound(flows)
    )
    dataset = naming.add_figures(node.name)
    output = NodeOutput(variable, dataset, "dict")
    return dataclasses.replace(
        node, outputs=(*node.outputs, output), figures=variable, pyplot=pyplot
    )


def _bound(flows: list[UnitFlow]) -> set[str]:
    return {name for flow in flows for name in flow.bound}


def _needed(
    flows: list[UnitFlow], with_node: list[int], results: list[tuple[Obj, int]]
) -> list[tuple[Obj, int]]:
    """Every version some node reads, then the results, in order of production."""
    found: list[tuple[Obj, int]] = []
    for index in with_node:
        for obj, version in flows[index].inputs.values():
            if (obj, version) not in found:
                found.append((obj, version))
    found.extend(entry for entry in results if entry not in found)
    return sorted(found, key=lambda e: (e[0].producers[e[1]], e[0].serial, e[1]))


def _node(
    code: UnitCode,
    flow: UnitFlow,
    naming: Naming,
    needed: list[tuple[Obj, int]],
    module: ModuleCode,
) -> tuple[NodePlan, list[Check]]:
    modules = module.modules
    inputs: list[NodeInput] = []
    aliases: list[tuple[str, str]] = []
    by_dataset: dict[str, str] = {}
    for argument, (obj, version) in flow.inputs.items():
        dataset = naming.dataset(obj, version)
        if dataset in by_dataset:
            aliases.append((argument, by_dataset[dataset]))
            continue
        by_dataset[dataset] = argument
        inputs.append(NodeInput(argument, dataset, type_hint(obj.type, modules)))
    copies = tuple(
        i.argument for i in inputs if any(obj in flow.changed for obj in _objects(flow, i))
    )
    outputs, checks = [], []
    last_cell = code.unit.cells[-1].cell.index
    for obj in [*flow.created, *flow.changed]:
        version = flow.versions.get(obj, 0)
        if (obj, version) not in needed:
            continue
        variable = _variable(flow, obj)
        dataset = naming.dataset(obj, version)
        outputs.append(NodeOutput(variable, dataset, type_hint(obj.type, modules)))
        # A written file holds what the notebook's code wrote: compare with that expression.
        notebook_value = obj.write.value if obj.write is not None else variable
        checks.append(Check(dataset, code.unit.name, notebook_value, last_cell, obj.fitted_on))
    node = NodePlan(
        name=code.unit.name,
        heading=code.unit.heading,
        markdown=code.unit.markdown,
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        copies=copies,
        aliases=tuple(aliases),
        body=code.body,
        drops=tuple(code.drops),
        cells=tuple(c.cell.code_number or 0 for c in code.unit.cells),
        imports=tuple(
            module.import_before(name, code.unit.cells[0].cell.index)
            for name in flow.module_reads
            if name in flow.bound
        ),
    )
    return node, checks


def type_hint(value_type: str | None, modules: Mapping[str, str]) -> str | None:
    """A type as the generated module can write it with the notebook's imports, or ``None``.

    ``pandas.DataFrame`` is ``pd.DataFrame`` after ``import pandas as pd``, ``DataFrame`` after
    ``from pandas import DataFrame``; builtin types (``float``, ``list[str]``) are themselves.
    """
    if value_type is None:
        return None
    head, _, inner = value_type.partition("[")
    if inner:
        # A container of a dotted type: the container alone unless every part is plain.
        return value_type if "." not in inner else head
    if "." not in value_type:
        return value_type
    for name, target in sorted(modules.items()):
        if target == value_type:
            return name
    module, _, attribute = value_type.rpartition(".")
    for name, target in sorted(modules.items()):
        if target == module:
            return f"{name}.{attribute}"
    return None


def _objects(flow: UnitFlow, node_input: NodeInput) -> list[Obj]:
    return [obj for name, (obj, _) in flow.inputs.items() if name == node_input.argument]


def _variable(flow: UnitFlow, obj: Obj) -> str:
    """The local name that holds ``obj`` when the unit ends (its own name first)."""
    names = [
        n for n, o in flow.env_end.items() if o is obj and (n in flow.bound or n in flow.inputs)
    ]
    if obj.base in names:
        return obj.base
    if not names:  # pragma: no cover - an object is reached through a name, which holds it
        raise AssertionError(f"no name holds the value of {obj.base!r} at the end of its section")
    return sorted(names)[0]


def _read_checks(codes: list[UnitCode], flows: list[UnitFlow], naming: Naming) -> list[Check]:
    """Reads assigned to a name are compared with the notebook's value after their section."""
    checks = []
    for code, flow in zip(codes, flows, strict=True):
        for step in code.steps:
            read = step.catalog
            if read is None:
                continue
            obj = flow.env_end.get(read.name)
            if obj is None or obj.read is not read or obj in flow.changed:
                continue
            if (obj.serial, 0) in naming.names:
                dataset = naming.dataset(obj, 0)
                last_cell = code.unit.cells[-1].cell.index
                checks.append(Check(dataset, None, read.name, last_cell, None))
    return checks


def _loads(codes: list[UnitCode]) -> dict[str, tuple[str, int, int, str]]:
    """Each ``catalog.load("name")``: the variable, code cell, line and statement."""
    found: dict[str, tuple[str, int, int, str]] = {}
    for code in codes:
        reads = [s.catalog for s in code.steps if s.catalog is not None] + code.embedded_reads
        for read in reads:
            if read.dataset is not None and read.dataset not in found:
                found[read.dataset] = (read.name, *read.where)
    return found


def _missing_files(notebook: Notebook, codes: list[UnitCode], project_path: Path) -> list[str]:
    """A warning for each file the notebook reads that is not there (and nothing writes)."""
    found = []
    for code in codes:
        reads = [(s.cell, s.catalog) for s in code.steps if s.catalog is not None]
        reads += [(None, read) for read in code.embedded_reads]
        for cell, read in reads:
            if read.read is None or read.written is not None or "://" in read.filepath:
                continue
            where = project_path / read.filepath
            if where.exists():
                continue
            cell_text = f", code cell {cell.cell.code_number}" if cell is not None else ""
            found.append(
                f"{notebook.path}{cell_text}: reads {read.read.path!r}, which does not exist "
                f"(looked for {where.resolve()}: paths start from the notebook's folder, or "
                f"where a %cd at the top moves). The pipeline cannot load `{read.filepath}` "
                "until it is there."
            )
    return list(dict.fromkeys(found))


def _left_out(codes: list[UnitCode]) -> list[tuple[int, str]]:
    """Sections with code that became no node (they only display)."""
    found = []
    for code in codes:
        unit: Unit = code.unit
        if code.has_code or not unit.cells or unit.setup:
            continue
        if any(step.catalog is not None for step in code.steps):
            continue  # its reads became catalog entries
        found.append(_section(code))
    return found


def _section(code: UnitCode) -> tuple[int, str]:
    """A section's first code cell, and how the docstring names it."""
    numbers = [c.cell.code_number or 0 for c in code.unit.cells]
    cells = (
        f"code cells {numbers[0]}-{numbers[-1]}" if len(numbers) > 1 else f"code cell {numbers[0]}"
    )
    return numbers[0], f"'{code.unit.heading or code.unit.name}' ({cells})"


def _relative(notebook: Notebook, project_path: Path) -> tuple[str, str]:
    """The notebook's path and folder relative to the project root, POSIX style."""
    path = Path(os.path.relpath(notebook.path.resolve(), project_path.resolve()))
    return path.as_posix(), path.parent.as_posix()
