"""The conversion plan and the sync state of a notebook as JSON, for the JupyterLab panel.

``explain`` runs ``generate``, the very call ``kedro notebook convert`` makes, and lays its
``ConversionPlan`` out for a person: nodes with the notebook cells they come from, datasets
with their producer, consumers and catalog entry, what is left out and why. ``sync_state``
says whether the pipeline converted from a notebook is in sync with it, from
``check_conversions`` (what ``kedro notebook check`` runs). Nothing here analyses code: a
change of the plan shows up as a change of this JSON, which the tests pin.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lab2prod.convert.cells import SKIP_TAG, slug

# The words the generated docstrings use for each kind of line left out: the panel says the same.
from lab2prod.convert.codegen import DROP_REASONS
from lab2prod.convert.plan import ConversionPlan
from lab2prod.convert.project import Project, existing_catalog, generate
from lab2prod.convert.sync import check_conversions, notebook_hash, read_ledger
from lab2prod.errors import ConversionError, NotebookError
from lab2prod.notebook import Notebook, parse_notebook, read_notebook

_CODE_CELLS = re.compile(r"code cells? (\d+)(?:-(\d+))?")


def explain(
    project: Project,
    notebook: str | Path,
    *,
    pipeline: str | None = None,
    content: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What ``kedro notebook convert NOTEBOOK --pipeline PIPELINE`` would write, as JSON data.

    Args:
        project: The project.
        notebook: The notebook, relative to the project root or absolute.
        pipeline: The pipeline's name (default: ``default_pipeline``).
        content: The notebook's JSON as the editor holds it, unsaved edits included.

    Returns:
        ``notebook``, ``pipeline``, and either ``error`` (the conversion is refused: message,
        cell, line) or the plan: ``nodes``, ``datasets``, ``parameters``, ``left_out``,
        ``skipped``, ``setup_drops`` and the ``files`` convert writes. Cells are given twice:
        ``cell`` is the position among all cells (what an editor indexes), ``code_cell`` the
        number among code cells (what messages say).

    Raises:
        NotebookReadError: The notebook cannot be read (or ``content`` is not a notebook).
    """
    path = _absolute(project, notebook)
    read = read_notebook(path) if content is None else parse_notebook(content, path)
    relative = _relative(project, path)
    name = pipeline or default_pipeline(project, relative)
    laid_out: dict[str, Any] = {"notebook": relative, "pipeline": name, "error": None}
    cells = _cell_positions(read)
    try:
        generated = generate(project, path, name, content=content)
    except ConversionError as exc:
        laid_out["error"] = {
            # Paths as the project names them: the panel sits inside the project.
            "message": str(exc).replace(f"{project.path.resolve()}/", ""),
            "construct": exc.construct,
            "code_cell": exc.cell,
            "cell": cells.get(exc.cell) if exc.cell is not None else None,
            "line": exc.line,
        }
        return laid_out
    plan = generated.plan
    laid_out.update(
        title=plan.title,
        nodes=[_node(node, cells) for node in plan.nodes],
        datasets=_datasets(plan, existing_catalog(project, name)),
        parameters=_jsonable(plan.parameters),
        left_out=[_left_out(text, cells) for text in plan.left_out],
        skipped=[
            {"cell": cell.index, "code_cell": cell.code_number, "reason": f"tagged '{SKIP_TAG}'"}
            for cell in read.tagged(SKIP_TAG)
            if cell.cell_type == "code"
        ],
        setup_drops=[_drop(drop, cells) for drop in plan.module_drops],
        files=sorted(generated.files),
    )
    return laid_out


def default_pipeline(project: Project, notebook: str) -> str:
    """The pipeline a notebook was converted into, else a name from its file name.

    ``notebooks/02_customer_profiles.ipynb`` becomes ``customer_profiles``: leading numbers,
    which order notebooks in a folder, are not part of the name.

    Args:
        project: The project.
        notebook: The notebook, relative to the project root, POSIX style.
    """
    for pipeline, entry in sorted(read_ledger(project).items()):
        if entry.get("notebook") == notebook:
            return pipeline
    stem = re.sub(r"^[\d_\-. ]+", "", Path(notebook).stem)
    return slug(stem) or "notebook"


def sync_state(
    project: Project, notebook: str | Path, *, content: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Whether the pipelines converted from a notebook are in sync with it.

    Args:
        project: The project.
        notebook: The notebook, relative to the project root or absolute.
        content: The notebook as the editor holds it: unsaved edits make the pipeline stale
            as saved ones do.

    Returns:
        ``state``: ``"not-converted"``, ``"in-sync"``, ``"stale"`` (the notebook changed, or a
        generated file is missing) or ``"edited"`` (a generated file was edited by hand);
        ``pipelines`` (the pipelines converted from it) and ``problems`` (``pipeline``,
        ``path``, ``kind``, ``detail``; as ``kedro notebook check`` lists them).
    """
    path = _absolute(project, notebook)
    relative = _relative(project, path)
    converted = sorted(
        name for name, entry in read_ledger(project).items() if entry.get("notebook") == relative
    )
    state: dict[str, Any] = {"notebook": relative, "pipelines": converted, "problems": []}
    if not converted:
        return {**state, "state": "not-converted"}
    problems = [
        {"pipeline": p.pipeline, "path": p.path, "kind": p.kind, "detail": p.detail}
        for p in check_conversions(project)
        if p.pipeline in converted
    ]
    if content is not None:
        recorded = read_ledger(project)
        current = _content_hash(content)
        for name in converted:
            if recorded[name].get("notebook_hash") != current and not any(
                p["pipeline"] == name and p["path"] == relative for p in problems
            ):
                problems.append(
                    {
                        "pipeline": name,
                        "path": relative,
                        "kind": "stale",
                        "detail": "the notebook changed since it was converted (unsaved "
                        "edits included); convert it again",
                    }
                )
    kinds = {p["kind"] for p in problems}
    state["problems"] = problems
    if "edited" in kinds:
        return {**state, "state": "edited"}
    return {**state, "state": "stale" if problems else "in-sync"}


def notebook_parameters(notebook: Notebook) -> list[dict[str, Any]]:
    """The names a notebook's ``parameters`` cell declares, with their defaults' source text.

    Raises:
        NotebookParameterError: The ``parameters`` cell is not valid Python.
    """
    return [
        {"name": p.name, "default": p.default, "line": p.line} for p in notebook.parameters.values()
    ]


def _node(node: Any, cells: dict[int, int]) -> dict[str, Any]:
    inputs = [_io(i.argument, i.dataset, i.hint) for i in node.inputs]
    return {
        "name": node.name,
        "heading": node.heading,
        "cells": [cells[number] for number in node.cells if number in cells],
        "code_cells": list(node.cells),
        "inputs": [i for i in inputs if not i["dataset"].startswith("params:")],
        "parameters": [i for i in inputs if i["dataset"].startswith("params:")],
        "outputs": [_io(o.variable, o.dataset, o.hint) for o in node.outputs],
        "copies": list(node.copies),
        "drops": [_drop(drop, cells) for drop in node.drops],
    }


def _io(variable: str, dataset: str, hint: str | None) -> dict[str, Any]:
    return {"variable": variable, "dataset": dataset, "type": hint}


def _drop(drop: Any, cells: dict[int, int]) -> dict[str, Any]:
    return {
        "cell": cells.get(drop.cell),
        "code_cell": drop.cell,
        "line": drop.line,
        "text": drop.text,
        "reason": DROP_REASONS.get(drop.reason, drop.reason),
    }


def _datasets(plan: ConversionPlan, existing: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every dataset the nodes read or write, in order of first appearance."""
    found: dict[str, dict[str, Any]] = {}

    def entry(name: str) -> dict[str, Any]:
        if name not in found:
            if name.startswith("params:"):
                role = "parameter"
            elif name in plan.results:
                role = "result"
            elif name in plan.inputs:
                role = "input"
            else:
                role = "intermediate"
            catalog = plan.catalog.get(name, existing.get(name))
            found[name] = {
                "name": name,
                "role": role,
                "producer": None,
                "consumers": [],
                "catalog": _jsonable(dict(catalog)) if isinstance(catalog, Mapping) else None,
                "new_entry": name in plan.catalog,
            }
        return found[name]

    for node in plan.nodes:
        for node_input in node.inputs:
            entry(node_input.dataset)["consumers"].append(node.name)
        for output in node.outputs:
            entry(output.dataset)["producer"] = node.name
    return list(found.values())


def _left_out(text: str, cells: dict[int, int]) -> dict[str, Any]:
    """A section that became no node: its description, and its cells when the text names them."""
    match = _CODE_CELLS.search(text)
    numbers: list[int] = []
    if match:
        first = int(match.group(1))
        numbers = list(range(first, int(match.group(2) or first) + 1))
    return {
        "text": text,
        "reason": "only displays (plots, printed output, bare expressions)",
        "code_cells": numbers,
        "cells": [cells[n] for n in numbers if n in cells],
    }


def _cell_positions(notebook: Notebook) -> dict[int, int]:
    """Code cell number (from 1) to the cell's position among all cells (from 0)."""
    return {c.code_number: c.index for c in notebook.cells if c.code_number is not None}


def _content_hash(content: Mapping[str, Any]) -> str:
    """``notebook_hash`` of a notebook held in memory (the hash reads cells, not the path)."""
    with tempfile.TemporaryDirectory(prefix="lab2prod-lab-") as scratch:
        path = Path(scratch) / "notebook.ipynb"
        path.write_text(json.dumps(content), encoding="utf-8")
        return notebook_hash(path)


def _absolute(project: Project, notebook: str | Path) -> Path:
    path = Path(notebook)
    return path if path.is_absolute() else project.path / path


def _relative(project: Project, path: Path) -> str:
    try:
        return path.resolve().relative_to(project.path.resolve()).as_posix()
    except ValueError as exc:
        raise NotebookError(
            f"{path} is not inside the Kedro project at {project.path}: open a notebook of the "
            "project.",
            notebook=str(path),
        ) from exc


def _jsonable(value: Any) -> Any:
    """Plain JSON types: YAML values of a catalog entry or a parameter (dates become text)."""
    return json.loads(json.dumps(value, default=str))
