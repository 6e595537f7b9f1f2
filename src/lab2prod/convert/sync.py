"""Keeping converted pipelines in sync with their notebooks.

``conf/base/notebooks.yml``, the conversion ledger, holds for each converted pipeline its
notebook, a hash of the notebook's code (cell types, sources and tags: not outputs) and a hash
of each generated file. ``write_conversion`` writes a conversion's files: a file the ledger says
is unedited is replaced; a generated file edited since needs ``force``; a hand-written file (no
generated header) is never replaced. ``check_conversions`` regenerates every pipeline in the
ledger in memory and names each file that is stale (its notebook changed) or edited by hand.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lab2prod.convert.codegen import GENERATED_MARK
from lab2prod.convert.project import LEDGER, Generated, Project, generate
from lab2prod.errors import ConversionError, Lab2ProdError, NotebookError
from lab2prod.io import write_text_atomic
from lab2prod.notebook import read_notebook

_LEDGER_HEADER = (
    f"# {GENERATED_MARK}: each pipeline converted from a notebook, with hashes of the\n"
    "# notebook's code and of the files generated. `kedro notebook check` compares them.\n"
)

_HAND_WRITTEN = (
    "is hand-written: lab2prod never replaces it. Move it away, or convert into another "
    "--pipeline name."
)
_EDITED = (
    "was edited by hand since it was generated. Pass --force to replace it (the edits are "
    "lost), or move the edits into the notebook."
)


@dataclass(frozen=True)
class Problem:
    """A way a converted pipeline is out of sync with its notebook.

    Attributes:
        pipeline: The pipeline.
        path: The file concerned, relative to the project root.
        kind: ``"stale"``, ``"edited"``, ``"missing"`` or ``"unconvertible"``.
        detail: One sentence for a person.
    """

    pipeline: str
    path: str
    kind: str
    detail: str

    def render(self) -> str:
        """The problem as one line."""
        return f"{self.kind:>13}  {self.path}: {self.detail}"


def notebook_hash(path: Path) -> str:
    """A hash of what conversion reads from a notebook: each cell's type, source and tags."""
    notebook = read_notebook(path)
    code = [[cell.cell_type, cell.source, list(cell.tags)] for cell in notebook.cells]
    return _hash(json.dumps(code, sort_keys=True))


def read_ledger(project: Project) -> dict[str, Any]:
    """The conversions in the ledger, by pipeline (empty when there is no ledger)."""
    path = project.path / LEDGER
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def write_conversion(project: Project, generated: Generated, *, force: bool = False) -> list[str]:
    """Write a conversion's files and enter them in the ledger; nothing is written if any file
    is refused.

    Args:
        project: The project.
        generated: The conversion, from ``generate``.
        force: Replace generated files that were edited by hand.

    Returns:
        The paths written (files whose text changed), relative to the project root.

    Raises:
        ConversionError: A target file is hand-written (never replaced), or is a generated
            file edited since the last conversion and ``force`` is not given.
    """
    plan = generated.plan
    ledger = read_ledger(project)
    recorded = ledger.get(plan.pipeline, {}).get("files", {})
    changed = []
    for relative, text in generated.files.items():
        path = project.path / relative
        if not path.exists():
            changed.append(relative)
            continue
        current = path.read_text(encoding="utf-8")
        if current == text:
            continue
        if GENERATED_MARK not in current.split("\n", 1)[0]:
            raise _refused(plan.notebook, relative, _HAND_WRITTEN)
        if recorded.get(relative) != _hash(current) and not force:
            raise _refused(plan.notebook, relative, _EDITED)
        changed.append(relative)
    for relative in changed:
        write_text_atomic(project.path / relative, generated.files[relative])
    entry: dict[str, Any] = {
        "notebook": plan.notebook,
        "notebook_hash": notebook_hash(project.path / plan.notebook),
        "files": {relative: _hash(text) for relative, text in generated.files.items()},
        "verified": False,
    }
    if plan.mutations:
        entry["mutations"] = [{"node": unit, "variable": name} for unit, name in plan.mutations]
    if plan.assumptions:
        entry["unproven"] = list(plan.assumptions)
    ledger[plan.pipeline] = entry
    _write_ledger(project, ledger)
    return changed


def record_verification(project: Project, pipeline: str, *, unproven: list[str]) -> None:
    """Record what ``--verify`` proved: ``verified`` when nothing is left ``unproven``.

    Args:
        project: The project.
        pipeline: The pipeline, entered in the ledger by ``write_conversion``.
        unproven: What the run could not check or found different, one sentence each.
    """
    ledger = read_ledger(project)
    entry = ledger.get(pipeline)
    if entry is None:
        return
    entry["verified"] = not unproven
    if unproven:
        entry["unproven"] = unproven
    else:
        entry.pop("unproven", None)
    _write_ledger(project, ledger)


def _write_ledger(project: Project, ledger: dict[str, Any]) -> None:
    write_text_atomic(
        project.path / LEDGER, _LEDGER_HEADER + yaml.safe_dump(ledger, sort_keys=True, width=100)
    )


def check_conversions(project: Project) -> list[Problem]:
    """Regenerate every pipeline in the ledger in memory and compare with the files on disk.

    Returns:
        Every stale, edited or missing file (empty when all are in sync).
    """
    problems = []
    for pipeline, entry in sorted(read_ledger(project).items()):
        notebook = entry.get("notebook", "")
        if not (project.path / notebook).is_file():
            problems.append(Problem(pipeline, notebook, "missing", "the notebook is gone"))
            continue
        try:
            generated = generate(project, notebook, pipeline)
        except (ConversionError, NotebookError) as exc:
            problems.append(Problem(pipeline, notebook, "unconvertible", str(exc)))
            continue
        recorded = entry.get("files", {})
        for relative in sorted(set(generated.files) | set(recorded)):
            problem = _compare(project, pipeline, relative, generated.files.get(relative), recorded)
            if problem is not None:
                problems.append(problem)
        if entry.get("notebook_hash") != notebook_hash(project.path / notebook):
            problems.append(
                Problem(
                    pipeline,
                    LEDGER,
                    "stale",
                    f"{notebook} changed since it was converted; run `kedro notebook convert "
                    f"{notebook} --pipeline {pipeline}`",
                )
            )
    return problems


def _compare(
    project: Project, pipeline: str, relative: str, text: str | None, recorded: dict[str, str]
) -> Problem | None:
    path = project.path / relative
    if text is None:
        if path.exists():
            return Problem(pipeline, relative, "stale", "no longer generated; delete it")
        return None
    if not path.exists():
        return Problem(pipeline, relative, "missing", "generated, but not on disk")
    current = path.read_text(encoding="utf-8")
    if current == text:
        return None
    if recorded.get(relative) == _hash(current):
        return Problem(pipeline, relative, "stale", "the notebook changed; convert it again")
    return Problem(pipeline, relative, "edited", "edited by hand since it was generated")


def _refused(notebook: str, relative: str, why: str) -> Lab2ProdError:
    return ConversionError(
        f"{relative} {why}",
        notebook=notebook,
        cell=None,
        line=None,
        construct="target file",
    )


def _hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
