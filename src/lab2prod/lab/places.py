"""Where a notebook of the Jupyter server is: its file, and the Kedro project around it."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from lab2prod.convert.project import Project
from lab2prod.errors import LabRequestError


@dataclass(frozen=True)
class Place:
    """A notebook, its project, and how the Jupyter server names the project's folder.

    Attributes:
        notebook: The notebook's absolute path.
        project: The Kedro project holding it.
        project_dir: The project root relative to the server's root (POSIX, ``""`` for the
            root itself), or ``None`` when the project root is above the server's root.
    """

    notebook: Path
    project: Project
    project_dir: str | None

    @property
    def relative(self) -> str:
        """The notebook relative to the project root, POSIX style (as the CLI writes it)."""
        return self.notebook.relative_to(self.project.path).as_posix()


def locate(root_dir: str | Path, path: object) -> Place:
    """The notebook at ``path`` (as the Jupyter contents API names it) and its Kedro project.

    Args:
        root_dir: The Jupyter server's root directory.
        path: The notebook's path relative to it, POSIX style.

    Raises:
        LabRequestError: ``path`` is not a string naming a ``.ipynb`` inside the server's root, or
            no folder at or above the notebook holds a Kedro project (``pyproject.toml`` with
            ``[tool.kedro]``).
    """
    if not isinstance(path, str) or not path.endswith(".ipynb"):
        raise LabRequestError(f"'path' must be a notebook's path (*.ipynb), not {path!r}.")
    root = Path(root_dir).resolve()
    notebook = (root / path.lstrip("/")).resolve()
    if not notebook.is_relative_to(root):
        raise LabRequestError(f"{path} is outside the Jupyter server's root folder.")
    for folder in notebook.parents:
        if _is_kedro_project(folder):
            project = Project.at(folder)
            project_dir = (
                Path(os.path.relpath(folder, root)).as_posix()
                if folder.is_relative_to(root)
                else None
            )
            return Place(notebook, project, "" if project_dir == "." else project_dir)
    raise LabRequestError(
        f"{path} is not in a Kedro project: no folder above it has a pyproject.toml with "
        "[tool.kedro]. Open a notebook of a Kedro project (lab2prod converts notebooks into "
        "the project's pipelines)."
    )


def _is_kedro_project(folder: Path) -> bool:
    pyproject = folder / "pyproject.toml"
    if not pyproject.is_file():
        return False
    try:
        settings = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return "package_name" in settings.get("tool", {}).get("kedro", {})
