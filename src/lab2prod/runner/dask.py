"""``DaskRunner``: a Kedro runner on Dask distributed, from a laptop's LocalCluster to a cluster.

``kedro run --runner lab2prod.runner.DaskRunner`` runs each node as a Dask task, submitted as
soon as the nodes it depends on have finished:

- an in-memory dataset (a ``MemoryDataset``, or a name the catalog does not declare) travels
  between workers as a Dask future: the node that makes it returns it, the nodes that read it
  take the future, and the runner lets go of it when no remaining node reads it, so Dask frees
  it; the catalog is never used to carry data between nodes;
- a persisted dataset is loaded and saved by the worker that runs the node, through the run's
  catalog (sent once per run, not once per task), so ``validator:`` contracts check it there;
- the project is configured on every worker by a ``WorkerPlugin`` (``plugin.py``), so node and
  dataset hooks (lab2prod's contract reports, tracking) run on the workers; the run's hooks
  (``before_pipeline_run`` ...) run once, on the client, as the session calls them;
- before the first task: nodes and datasets that cannot travel to worker processes, malformed
  ``dask.*`` tags, and resources no worker has are refused, each named with the fix;
- ``dask.retries-N`` tags and worker deaths: see ``tags.py``. A node whose workers keep dying
  stops the run with :class:`~lab2prod.errors.NodeLostError`, never a hang.

Where it runs: ``config.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from kedro.runner import AbstractRunner

from lab2prod.errors import ClusterConfigError
from lab2prod.runner.checks import (
    check_resources,
    memory_datasets,
    portable_payload,
    workers_in_process,
)
from lab2prod.runner.config import DaskSettings, load_settings
from lab2prod.runner.project import current_project
from lab2prod.runner.schedule import Schedule
from lab2prod.runner.tags import check_limits, node_options

if TYPE_CHECKING:
    from distributed import Client
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node
    from pluggy import PluginManager

logger = logging.getLogger(__name__)


class DaskRunner(AbstractRunner):
    """Run a Kedro pipeline on a Dask cluster.

    Every argument but ``is_async`` and ``client`` overrides the same setting of
    ``conf/<env>/dask.yml`` (``kedro run --runner-params address=tcp://scheduler:8786``).

    Args:
        is_async: Load a node's inputs and save its outputs with threads, on the worker.
        address: The scheduler's address; none anywhere: a local cluster for the run.
        n_workers: Workers of the local cluster.
        threads_per_worker: Threads of each local worker.
        processes: Local workers as processes (default) or as threads of this process.
        memory_limit: Memory of each local worker (``8GiB``, ``auto``, 0 for no limit).
        retries: Retries of a node that raises, unless a ``dask.retries-N`` tag says otherwise.
        native_threads: OpenMP/BLAS threads per worker process, or ``auto``.
        client: A connected ``distributed.Client`` to use as it is (tests, notebooks).
    """

    def __init__(
        self,
        is_async: bool = False,
        *,
        address: str | None = None,
        n_workers: int | None = None,
        threads_per_worker: int | None = None,
        processes: bool | str | None = None,
        memory_limit: str | int | None = None,
        retries: int | None = None,
        native_threads: int | str | None = None,
        client: Client | None = None,
    ) -> None:
        super().__init__(is_async=is_async)
        self._overrides = {
            "address": address,
            "n_workers": n_workers,
            "threads_per_worker": threads_per_worker,
            "processes": processes,
            "memory_limit": memory_limit,
            "retries": retries,
            "native_threads": native_threads,
        }
        self._client = client

    def _get_executor(self, max_workers: int) -> None:
        return None  # Dask schedules; Kedro's executor loop is not used.

    def _node_completed(self, node: Node) -> None:
        """Called on the client as each node finishes (lab2prod's run manifest records it
        there, where Kedro's runners call ``_release_datasets``)."""

    def _run(
        self,
        pipeline: Pipeline,
        catalog: CatalogProtocol,
        hook_manager: PluginManager | None = None,
        run_id: str | None = None,
    ) -> None:
        settings = load_settings(self._overrides)
        options = {
            node: node_options(node, default_retries=settings.retries) for node in pipeline.nodes
        }
        check_limits(options)
        memory = memory_datasets(pipeline, catalog)
        in_process = (
            self._client is None and not settings.address and not (settings.local_cluster.processes)
        )
        payload: bytes | None = None
        if not in_process and self._client is None:
            payload = portable_payload(pipeline, catalog)
        with _connect(settings, self._client) as client:
            if self._client is not None:
                in_process = workers_in_process(client)
                if not in_process:
                    payload = portable_payload(pipeline, catalog)
            check_resources(client, options)
            _register_project(client, settings, in_process)
            logger.info("Running %d nodes on the Dask cluster %s", len(pipeline.nodes), client)
            client_hooks = _client_side_hooks(hook_manager, settings.worker_hooks_disabled)
            schedule = Schedule(
                self, pipeline, catalog, client, options, memory, run_id, client_hooks
            )
            schedule.run(payload, in_process=in_process)


def _client_side_hooks(hook_manager: PluginManager | None, plugins: list[str]) -> Any:
    """The ``before_node_run`` of ``plugins`` only, from the client's hook manager: those
    plugins' hooks stay off the workers, and run here before each node is submitted."""
    from pluggy import PluginManager

    # Outside a session Kedro passes a _NullPluginManager: no hooks at all.
    if not plugins or not isinstance(hook_manager, PluginManager):
        return None
    names = {variant for n in plugins for variant in (n, n.replace("-", "_"), n.replace("_", "-"))}
    kept = [p for p, dist in hook_manager.list_plugin_distinfo() if dist.project_name in names]
    if not kept:
        return None
    others = [p for p in hook_manager.get_plugins() if p not in kept]
    return hook_manager.subset_hook_caller("before_node_run", remove_plugins=others)


def _register_project(client: Client, settings: DaskSettings, in_process: bool) -> None:
    from kedro.framework.project import LOGGING

    from lab2prod.runner.plugin import PLUGIN_NAME, KedroProjectPlugin
    from lab2prod.threadpools import threads_per_worker

    project = current_project()
    native = settings.native_threads
    if native == "auto":
        if settings.address or client.cluster is None:
            native = threads_per_worker(1, cores=1)  # 1, or LAB2PROD_THREADS_PER_WORKER
        else:
            local = settings.local_cluster
            native = threads_per_worker(local.n_workers * local.threads_per_worker)
    plugin = KedroProjectPlugin(
        project_path=None if project is None else str(project.project_path),
        package_name=None if project is None else project.package_name,
        logging_config=None if in_process else dict(LOGGING.data),
        native_threads=int(native),
        disabled_plugins=tuple(settings.worker_hooks_disabled),
    )
    client.register_plugin(plugin, name=PLUGIN_NAME)


@contextmanager
def _connect(settings: DaskSettings, client: Client | None) -> Iterator[Client]:
    if client is not None:
        yield client
        return
    from distributed import Client, LocalCluster

    if settings.address:
        try:
            connected = Client(settings.address, timeout=settings.connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise ClusterConfigError(
                f"Cannot reach the Dask scheduler at {settings.address} within "
                f"{settings.connect_timeout:g} s ({type(exc).__name__}). Check `address` in "
                "conf/<env>/dask.yml, DASK_SCHEDULER_ADDRESS or --runner-params address=..., "
                "and that the scheduler is running.",
                key="address",
            ) from exc
        with connected:
            yield connected
        return
    local = settings.local_cluster
    # Dask logs every worker start and stop at INFO: a run's log is about its nodes. A cluster of
    # its own says what matters (a worker lost, memory pressure) as warnings.
    distributed_logger = logging.getLogger("distributed")
    level = distributed_logger.level
    distributed_logger.setLevel(max(level, logging.WARNING))
    memory_limit = local.memory_limit if local.memory_limit not in (None, "0") else 0
    try:
        with (
            LocalCluster(
                n_workers=local.n_workers,
                threads_per_worker=local.threads_per_worker,
                processes=local.processes,
                memory_limit=memory_limit,
                host="127.0.0.1" if local.processes else None,
                dashboard_address=local.dashboard_address,
            ) as cluster,
            Client(cluster) as connected,
        ):
            from lab2prod.runner.plugin import QuietWorkerLogs

            connected.register_plugin(QuietWorkerLogs(), name="lab2prod-quiet-logs")
            yield connected
    finally:
        distributed_logger.setLevel(level)
