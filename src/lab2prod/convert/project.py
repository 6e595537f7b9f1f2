"""A conversion inside a Kedro project: its settings, its catalog, the files generated in memory.

``generate`` is the whole conversion without touching the disk: ``kedro notebook convert``
writes its files, ``kedro notebook check`` compares them with what is on disk.
"""

from __future__ import annotations

import keyword
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lab2prod.convert.codegen import render
from lab2prod.convert.plan import ConversionPlan, plan_conversion
from lab2prod.errors import ConversionError
from lab2prod.notebook import parse_notebook, read_notebook

LEDGER = "conf/base/notebooks.yml"
"""The conversion ledger (every conversion, with its hashes), relative to the project root."""


@dataclass(frozen=True)
class Project:
    """The parts of a Kedro project a conversion needs.

    Attributes:
        path: The project root.
        package: ``[tool.kedro] package_name``.
        source_dir: ``[tool.kedro] source_dir`` (default ``src``).
    """

    path: Path
    package: str
    source_dir: str = "src"

    @classmethod
    def at(cls, path: str | Path) -> Project:
        """Read the project's ``pyproject.toml``.

        Raises:
            ConversionError: There is no ``[tool.kedro]`` with a ``package_name`` there.
        """
        path = Path(path)
        pyproject = path / "pyproject.toml"
        settings: dict[str, Any] = {}
        if pyproject.is_file():
            settings = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        kedro = settings.get("tool", {}).get("kedro", {})
        if "package_name" not in kedro:
            raise ConversionError(
                f"{path} is not a Kedro project: no [tool.kedro] package_name in "
                f"{pyproject}. Run the command from the project's root folder.",
                notebook="",
                cell=None,
                line=None,
                construct="not a Kedro project",
            )
        return cls(path, kedro["package_name"], kedro.get("source_dir", "src"))


@dataclass(frozen=True)
class Generated:
    """A conversion done in memory.

    Attributes:
        plan: The plan.
        files: Each generated file's text, by POSIX path relative to the project root.
    """

    plan: ConversionPlan
    files: dict[str, str]


def generate(
    project: Project,
    notebook: str | Path,
    pipeline: str,
    *,
    content: Mapping[str, Any] | None = None,
    mutations: Collection[tuple[str, str]] | None = None,
) -> Generated:
    """Convert a notebook into a pipeline's files, in memory.

    Args:
        project: The project.
        notebook: The notebook, relative to the project root or absolute.
        pipeline: The pipeline's name, a Python identifier.
        content: The notebook's JSON as an editor holds it, unsaved changes included: read
            instead of the file, which need not exist (the path still places the notebook).
        mutations: Changes in place a run showed that the analysis cannot see (``(unit,
            variable)``, see ``verify.verify_and_correct``); by default those recorded for
            the pipeline in ``conf/base/notebooks.yml``.

    Returns:
        The plan and the files' text.

    Raises:
        ConversionError: The name is not an identifier, or the notebook cannot be converted
            safely (the message names the cell and line).
        NotebookReadError: The notebook cannot be read.
    """
    if not pipeline.isidentifier() or keyword.iskeyword(pipeline):
        raise ConversionError(
            f"--pipeline {pipeline!r} is not a Python identifier; it names a package, e.g. "
            "'customer_profiles'.",
            notebook=str(notebook),
            cell=None,
            line=None,
            construct="pipeline name",
        )
    path = Path(notebook)
    path = path if path.is_absolute() else project.path / path
    read = read_notebook(path) if content is None else parse_notebook(content, path)
    plan = plan_conversion(
        read,
        pipeline=pipeline,
        package=project.package,
        project_path=project.path,
        existing_catalog=existing_catalog(project, pipeline),
        mutations=recorded_mutations(project, pipeline) if mutations is None else mutations,
    )
    return Generated(plan, render(plan, project.path, source_dir=project.source_dir))


def recorded_mutations(project: Project, pipeline: str) -> list[tuple[str, str]]:
    """The changes in place ``--verify`` found for a pipeline, from the conversion ledger."""
    path = project.path / LEDGER
    if not path.is_file():
        return []
    entry = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(pipeline) or {}
    return [(str(m["node"]), str(m["variable"])) for m in entry.get("mutations", [])]


def existing_catalog(project: Project, pipeline: str) -> dict[str, Any]:
    """The catalog entries of ``conf/base``, except the pipeline's own ``catalog_<name>.yml``.

    Read as plain YAML (no interpolation), which is enough to know names and file paths.
    """
    own = f"catalog_{pipeline}.yml"
    entries: dict[str, Any] = {}
    base = project.path / "conf" / "base"
    for path in sorted(base.rglob("*.yml")) if base.is_dir() else []:
        if "catalog" not in path.name or path.name == own:
            continue
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for name, entry in loaded.items() if isinstance(loaded, dict) else []:
            if not str(name).startswith("_") and "{" not in str(name):
                entries[str(name)] = entry
    return entries
