"""The Dask ``WorkerPlugin`` that makes every worker a configured process of the Kedro project.

Registered by ``DaskRunner`` on the client, it runs on every worker, including one that joins or
is restarted mid-run: it bootstraps the project (``bootstrap_project`` when the project's folder
is there, else ``configure_project`` on the installed package: a container image), applies the
project's logging, builds the hook manager from the project's ``settings.HOOKS`` and the
installed plugins' hooks, and sizes the process's native thread pools (OpenMP, BLAS) with
``lab2prod.threadpools`` so that N worker threads on N cores do not each start a pool as large
as the machine.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from distributed import WorkerPlugin

logger = logging.getLogger(__name__)

PLUGIN_NAME = "lab2prod-kedro-project"


class KedroProjectPlugin(WorkerPlugin):
    """Configure the Kedro project on a worker, once per worker process.

    Args:
        project_path: The project's root as the client sees it, or ``None`` outside a project.
        package_name: The project's package, or ``None`` outside a project.
        logging_config: Kedro's logging configuration from the client, applied on process
            workers; ``None`` leaves logging alone.
        native_threads: Threads each native pool (OpenMP, BLAS) of the worker may use; ``None``
            leaves them alone.
        disabled_plugins: Plugins whose hooks do not run on workers, besides the project's own
            ``DISABLE_HOOKS_FOR_PLUGINS``.
    """

    name = PLUGIN_NAME
    idempotent = False

    def __init__(
        self,
        *,
        project_path: str | None,
        package_name: str | None,
        logging_config: dict[str, Any] | None,
        native_threads: int | None,
        disabled_plugins: tuple[str, ...] = (),
    ) -> None:
        self.project_path = project_path
        self.package_name = package_name
        self.logging_config = logging_config
        self.native_threads = native_threads
        self.disabled_plugins = disabled_plugins
        self.hook_manager: Any = None
        self.limit: Any = None

    def setup(self, worker: Any) -> None:
        """Bootstrap the project and build the hook manager on ``worker``."""
        from kedro.framework.hooks.manager import (
            _create_hook_manager,
            _NullPluginManager,
            _register_hooks,
            _register_hooks_entry_points,
        )

        same_process = _in_client_process(worker)
        if self.native_threads is not None:
            from lab2prod.threadpools import ThreadPoolLimit

            self.limit = ThreadPoolLimit(self.native_threads)
            if not same_process:
                # The whole worker process: environment for libraries loaded later, threadpoolctl
                # for those loaded already. Worker threads of the client's process leave the
                # client's own pools alone; each task thread holds OpenMP to the limit itself.
                self.limit.apply()
        if self.package_name is None:
            self.hook_manager = _NullPluginManager()
            return
        if not same_process:
            _bootstrap(self.project_path, self.package_name)
            if self.logging_config:
                from kedro.framework.project import configure_logging

                configure_logging(self.logging_config)
        from kedro.framework.project import settings

        hook_manager = _create_hook_manager()
        _register_hooks(hook_manager, settings.HOOKS)
        # Distributions name themselves either way (kedro-mlflow's metadata says kedro_mlflow).
        disabled = {*settings.DISABLE_HOOKS_FOR_PLUGINS}
        for name in self.disabled_plugins:
            disabled |= {name, name.replace("-", "_"), name.replace("_", "-")}
        _register_hooks_entry_points(hook_manager, disabled)
        self.hook_manager = hook_manager


class QuietWorkerLogs(WorkerPlugin):
    """On the workers of the runner's own local cluster: Dask's INFO lines off, warnings on."""

    def setup(self, worker: Any) -> None:
        logging.getLogger("distributed").setLevel(logging.WARNING)


def _in_client_process(worker: Any) -> bool:
    """Whether the worker is a thread pool of the client's process (``processes=False``): the
    project is configured there already."""
    return str(getattr(worker, "address", "")).startswith("inproc://")


def _bootstrap(project_path: str | None, package_name: str) -> None:
    from kedro.framework.project import configure_project
    from kedro.framework.startup import bootstrap_project

    if project_path is not None and (Path(project_path) / "pyproject.toml").is_file():
        bootstrap_project(Path(project_path))
    else:
        # A worker image with the project installed but not at the client's path.
        configure_project(package_name)


def enter_task() -> Any:
    """In a task's thread on a worker: hold its OpenMP pools to the worker's limit (OpenMP's
    limit is per thread), and return the worker's hook manager."""
    from distributed import get_worker

    plugin = get_worker().plugins.get(PLUGIN_NAME)
    if plugin is not None and plugin.limit is not None:
        plugin.limit.enter_thread()
    if plugin is None or plugin.hook_manager is None:
        from kedro.framework.hooks.manager import _NullPluginManager

        return _NullPluginManager()
    return plugin.hook_manager
