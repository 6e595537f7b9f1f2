"""What a conversion assumes about the notebook's objects, and how ``--verify`` can check it.

The static analysis decides, for every variable at the end of every section, whether it still
holds the object it held before, unchanged, or that object changed in place (a new version), or
a new object. Where the code calls something the analysis does not model (a library function
given a model, a method it does not know), the plan assumes the object unchanged; those
places are the conversion's unproven assumptions (``static_assumptions``).

``--verify`` checks them on a run of the notebook: ``boundaries`` says, section by section,
what the plan assumed for each variable, and the cell inserted after each section
fingerprints the variables (``lab2prod.convert.fingerprint``).
"""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass
from typing import Any

from lab2prod.convert.effects import (
    MUTATING_METHODS,
    PURE_BUILTINS,
    call_effect,
    dotted,
    root_name,
)
from lab2prod.convert.flow import Obj, UnitFlow
from lab2prod.convert.module import ModuleCode
from lab2prod.convert.steps import UnitCode

_READ_ONLY_METHODS = frozenset(
    {
        "predict", "predict_proba", "predict_log_proba", "decision_function", "transform",
        "inverse_transform", "score", "score_samples", "get_params", "get_feature_names_out",
        "copy", "items", "keys", "values", "get", "format", "join", "split", "strip", "lower",
        "upper", "replace", "startswith", "endswith", "count", "index", "tolist", "to_numpy",
        "astype", "reshape", "sum", "mean", "min", "max", "std", "round", "summary",
        # pandas and numpy methods that return a new object
        "reset_index", "set_index", "groupby", "merge", "assign", "rename", "sort_values",
        "sort_index", "query", "apply", "agg", "aggregate", "describe", "head", "tail",
        "fillna", "dropna", "isna", "notna", "unique", "nunique", "value_counts", "pivot_table",
        "melt", "filter", "where", "mask", "clip", "abs", "cumsum", "diff", "shift", "rolling",
        "resample", "sample", "drop", "drop_duplicates", "to_frame", "to_dict", "to_list",
        "median", "var", "quantile", "corr", "cov", "any", "all", "argmax", "argmin", "dot",
        "flatten", "ravel", "squeeze", "transpose", "isin", "between", "map", "stack",
        "unstack", "explode", "nlargest", "nsmallest", "idxmax", "idxmin", "size",
    }
)  # fmt: skip
"""Methods taken to leave their object as it is, whatever its type: not worth listing
(pandas' ``inplace=True`` forms are known changes already)."""
_KNOWN_TYPES = ("pandas.", "numpy.", "polars.", "builtins.")
_PLAIN = frozenset(
    {"float", "int", "str", "bool", "list", "dict", "tuple", "set", "dict[str, float]"}
)


START = ":start"
"""The suffix of a section's fingerprints taken before its first cell (when code cells that
are no section's, skipped or the parameters cell, run between it and the section before)."""


@dataclass(frozen=True)
class Boundary:
    """The end of a section, as the plan sees it.

    Attributes:
        unit: The section's unit (its node's name, when it has one).
        first_cell: The notebook cell (``Cell.index``) the section starts with.
        after_cell: The notebook cell (``Cell.index``) the section ends with.
        objects: ``(variable, object, version)`` for every variable the plan follows there:
            the same object and version as at the previous boundary means "unchanged".
        reads: Variables the section reads that an earlier section made (a change the run
            shows can be given to its node).
        uses: ``(variable, code cell, line, statement)``: the kept statements that read each
            variable, to point at where an unseen change happened.
    """

    unit: str
    first_cell: int
    after_cell: int
    objects: tuple[tuple[str, int, int], ...]
    reads: tuple[str, ...]
    uses: tuple[tuple[str, int, int, str], ...]


def boundaries(codes: list[UnitCode], flows: list[UnitFlow]) -> tuple[Boundary, ...]:
    """Each section's end with what the plan assumes every variable holds there."""
    found = []
    for index, (code, flow) in enumerate(zip(codes, flows, strict=True)):
        if not code.unit.cells:
            continue
        objects = tuple(
            (name, obj.serial, _version_at(obj, index))
            for name, obj in sorted(flow.env_end.items())
        )
        uses = []
        for step in code.steps:
            if step.facts is None:
                continue
            cell = step.cell.cell.code_number or 0
            text = ast.get_source_segment(step.cell.python, step.facts.node) or ""
            first = text.strip().splitlines()[0] if text.strip() else ""
            for name in step.facts.reads:
                if name in flow.env_end:
                    uses.append((name, cell, step.facts.node.lineno, first))
        found.append(
            Boundary(
                code.unit.name,
                code.unit.cells[0].cell.index,
                code.unit.cells[-1].cell.index,
                objects,
                tuple(sorted(flow.inputs)),
                tuple(uses),
            )
        )
    return tuple(found)


def static_assumptions(
    codes: list[UnitCode], flows: list[UnitFlow], module: ModuleCode
) -> tuple[str, ...]:
    """Where the plan assumes an object unchanged without knowing: one line each.

    A variable passed to a function the analysis does not know (not the notebook's own, not
    of a numeric library); a method it does not know called on an object of a type it does
    not know (a model, a library's object); and an object that went into another one (a
    scaler into a pipeline) when that other one is changed: each may change in place, and
    then the pipeline would compute something else. ``--verify`` checks them on a run.
    """
    found: list[str] = []
    made_from: dict[str, tuple[list[str], int]] = {}
    plots = _plot_names(codes)
    for code, flow in zip(codes, flows, strict=True):
        if not code.has_code:
            continue
        # What each name holds as a statement runs: inputs, then what earlier ones bind.
        objects = {n: o for n, (o, _) in flow.inputs.items()}
        for step in code.steps:
            facts = step.facts
            if facts is None:
                continue
            cell = step.cell.cell.code_number or 0

            def add(line: int, name: str, text: str, what: str, cell: int = cell) -> None:
                text = text if len(text) <= 60 else text[:57] + "..."
                entry = (
                    f"code cell {cell}, line {line}: `{name}` assumed unchanged by `{text}` "
                    f"({what})"
                )
                if entry not in found:
                    found.append(entry)

            for call in facts.calls:
                if call_effect(call, module.modules, module.helpers, plots)[0] == "plot":
                    continue  # figures and axes: drawing on them is what they are for
                text = ast.get_source_segment(step.cell.python, call) or ast.unparse(call)
                for name, what in _unknown_effects(call, module, objects, facts.mutates):
                    add(call.lineno, name, text, what)
            for changed in sorted(facts.mutates):
                parts, where = made_from.get(changed, ([], 0))
                text = ast.get_source_segment(step.cell.python, facts.node) or ""
                first = text.strip().splitlines()[0] if text.strip() else changed
                for part in parts:
                    if part not in facts.mutates:
                        what = f"it went into `{changed}` in code cell {where}, which this changes"
                        add(facts.node.lineno, part, first, what)
            objects.update({n: flow.env_end[n] for n in facts.binds if n in flow.env_end})
            if step.assigned is not None:
                target, value = step.assigned
                parts = [
                    n.id
                    for n in ast.walk(value)
                    if isinstance(n, ast.Name) and n.id in objects and _unknown_type(objects[n.id])
                ]
                if parts:
                    made_from[target] = (list(dict.fromkeys(parts)), cell)
    return tuple(found)


def _plot_names(codes: list[UnitCode]) -> set[str]:
    """Names bound by plotting statements (``fig, ax = plt.subplots()``, ``for ax in axes``)."""
    found: set[str] = set()
    pending = [step.facts for code in codes for step in code.steps if step.facts is not None]
    while pending:
        facts = pending.pop()
        if facts.effect == "plot":
            found |= facts.binds
        pending.extend(child for body in facts.children for child in body)
    return found


def _unknown_type(obj: Obj) -> bool:
    value_type = obj.type or ""
    return not value_type.startswith(_KNOWN_TYPES) and value_type not in _PLAIN


def _unknown_effects(
    call: ast.Call, module: ModuleCode, objects: dict[str, Obj], mutated: set[str]
) -> list[tuple[str, str]]:
    func = call.func
    found = []
    if isinstance(func, ast.Attribute):
        receiver = root_name(func.value)
        obj = objects.get(receiver or "")
        if (
            obj is not None
            and receiver not in mutated
            and func.attr not in MUTATING_METHODS | _READ_ONLY_METHODS
            and not func.attr.startswith("_")
            and _unknown_type(obj)
        ):
            found.append(
                (receiver, "a method the analysis does not know, of an object of unknown type")
            )
        if dotted(func, module.modules) is None:
            return found  # a method: its arguments are taken as read
    effect, _ = call_effect(call, module.modules, module.helpers, set())
    if effect != "effect" or (isinstance(func, ast.Name) and func.id in module.helpers):
        return found
    if isinstance(func, ast.Name) and func.id in PURE_BUILTINS:
        return found
    for argument in [*call.args, *(k.value for k in call.keywords)]:
        name = root_name(argument)
        if name is not None and name in objects and name not in mutated:
            found.append((name, "a function the analysis does not know"))
    return found


def _version_at(obj: Obj, unit: int) -> int:
    """The version of ``obj`` current when unit ``unit`` ends."""
    return max(v for v, producer in enumerate(obj.producers) if producer <= unit)


@dataclass(frozen=True)
class Finding:
    """What the run did to a variable that the plan did not assume.

    Attributes:
        unit: The section (its unit's name).
        variable: The variable.
        kind: ``"changed"`` (the same object, changed in place where the plan assumed it
            unchanged), ``"rebound"`` (another object where the plan assumed the same one)
            or ``"unknown"`` (no fingerprint: the note says why).
        where: The statements of the section that read the variable.
        correctable: Whether the change can be given to the section's node: a change in place
            in the section (the node takes the variable, copies it with what else it changes,
            and outputs a new version).
        note: Why a fingerprint is missing or partial.
    """

    unit: str
    variable: str
    kind: str
    where: str
    correctable: bool
    note: str = ""

    def render(self) -> str:
        """The finding as one sentence."""
        if self.kind == "unknown":
            return (
                f"section '{self.unit}': `{self.variable}` assumed unchanged, not checked: it "
                f"{self.note}{'; ' + self.where if self.where else ''}"
            )
        what = (
            "changed in place"
            if self.kind == "changed"
            else "holds another object, which the code does not show"
        )
        return (
            f"section '{self.unit}': `{self.variable}` is {what} in the run, where the "
            f"conversion assumed it unchanged{'; ' + self.where if self.where else ''}"
        )


def check_boundaries(plan: Any, fingerprints: dict[str, Any]) -> list[Finding]:
    """Compare what the run did to each variable, section by section, with the plan.

    Where the plan assumes a variable unchanged (the same object, the same version), the run
    must show the same object with the same content. Only variables that a later section
    reads count (or, in the last section, that it reads): a change nothing reads afterwards
    changes no result.
    """
    findings: list[Finding] = []
    reached = [b for b in plan.boundaries if b.unit in fingerprints]
    for number, (before, boundary) in enumerate(itertools.pairwise(reached), start=1):
        previous = {name: (serial, version) for name, serial, version in before.objects}
        ended = fingerprints[before.unit]
        started = fingerprints.get(f"{boundary.unit}{START}", ended)
        taken = fingerprints[boundary.unit]
        later = {name for b in reached[number + 1 :] for name in b.reads}
        last = number == len(reached) - 1
        for name, serial, version in boundary.objects:
            if previous.get(name) != (serial, version):
                continue  # a new object or a new version: the plan follows it
            uses = [u for u in boundary.uses if u[0] == name]
            if not (name in later or (last and uses)):
                continue
            where = "; ".join(f"code cell {c}, line {line}: `{text}`" for _, c, line, text in uses)
            between = _difference(ended.get(name), started.get(name))
            if between in ("changed", "rebound"):  # a skipped cell, or the parameters cell
                where = "in a code cell between this section and the one before it"
                findings.append(Finding(boundary.unit, name, between, where, False))
                continue
            inside = _difference(started.get(name), taken.get(name))
            if inside == "unknown" and uses:
                old, new = started.get(name), taken.get(name)
                note = new[2] if new is not None and new[1] is None else (old or [0, 0, ""])[2]
                findings.append(Finding(boundary.unit, name, "unknown", where, False, note))
            elif inside in ("changed", "rebound"):
                correctable = inside == "changed"  # the node takes it, copied with the rest
                findings.append(Finding(boundary.unit, name, inside, where, correctable))
    return findings


def _difference(old: list[Any] | None, new: list[Any] | None) -> str | None:
    """What happened to a variable between two fingerprints: ``None`` when nothing did or it
    cannot be told (not data, or not there), ``"unknown"`` without a digest."""
    if old is None or new is None:
        return None
    if old[1] is None or new[1] is None:
        return "unknown"
    if old[0] != new[0]:
        return "rebound"
    return "changed" if old[1] != new[1] else None
