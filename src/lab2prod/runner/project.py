"""The Kedro project of the run in progress, noted by a hook when its context is created.

Kept apart from the rest of ``lab2prod.runner``: Kedro loads this module (an entry point of
``kedro.hooks``) on every command, so it imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl


@dataclass(frozen=True)
class ProjectInfo:
    """The Kedro project of the run in progress, as the client saw it.

    Attributes:
        project_path: The project's root on the client.
        package_name: The project's Python package.
        env: The configuration environment of the run.
        config_loader: The run's config loader (not sent to workers).
    """

    project_path: Path
    package_name: str | None
    env: str | None
    config_loader: Any = None


_project: ProjectInfo | None = None


class DaskProjectHooks:
    """Notes the project of the run (``kedro.hooks`` entry point): ``DaskRunner`` reads
    ``dask.yml`` with the project's config loader and bootstraps the project on its workers."""

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        from kedro.framework.project import PACKAGE_NAME

        global _project
        _project = ProjectInfo(
            project_path=Path(context.project_path),
            package_name=PACKAGE_NAME,
            env=context.env,
            config_loader=context.config_loader,
        )

    @hook_impl
    def after_pipeline_run(self) -> None:
        _forget()

    @hook_impl
    def on_pipeline_error(self) -> None:
        _forget()


def _forget() -> None:
    """A runner used after the session's run, outside a project, must not see this one."""
    global _project
    _project = None


dask_project_hooks = DaskProjectHooks()


def current_project() -> ProjectInfo | None:
    """The project noted when its Kedro context was created, or ``None`` outside a session."""
    return _project
