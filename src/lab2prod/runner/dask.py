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
import operator
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from kedro.io import MemoryDataset
from kedro.runner import AbstractRunner

from lab2prod.errors import ClusterConfigError, NodeLostError, NotPortableError
from lab2prod.runner.config import DaskSettings, load_settings
from lab2prod.runner.project import current_project
from lab2prod.runner.tags import NodeOptions, node_options

if TYPE_CHECKING:
    from distributed import Client, Future
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
        memory = _memory_datasets(pipeline, catalog)
        in_process = (
            self._client is None and not settings.address and not (settings.local_cluster.processes)
        )
        payload: bytes | None = None
        if not in_process and self._client is None:
            payload = _portable_payload(pipeline, catalog)
        with _connect(settings, self._client) as client:
            if self._client is not None:
                in_process = _workers_in_process(client)
                if not in_process:
                    payload = _portable_payload(pipeline, catalog)
            _check_resources(client, options)
            _register_project(client, settings, in_process)
            logger.info("Running %d nodes on the Dask cluster %s", len(pipeline.nodes), client)
            schedule = _Schedule(self, pipeline, catalog, client, options, memory, run_id)
            schedule.run(payload, in_process=in_process)


def _memory_datasets(pipeline: Pipeline, catalog: CatalogProtocol) -> set[str]:
    """Datasets that nodes of ``pipeline`` make and that live in memory: they travel as futures."""
    made = {name for node in pipeline.nodes for name in node.outputs}
    return {
        name for name in made if name not in catalog or isinstance(catalog.get(name), MemoryDataset)
    }


def _portable_payload(pipeline: Pipeline, catalog: CatalogProtocol) -> bytes:
    """The catalog pickled for the workers, after checking that every node and dataset of the
    pipeline can travel to another process.

    Raises:
        NotPortableError: Nodes or datasets cannot be pickled, or are single-process datasets.
    """
    from distributed.protocol.pickle import dumps

    nodes, datasets, reasons = [], [], []
    for node in pipeline.nodes:
        try:
            dumps(node)
        except Exception as exc:  # pickling raises anything the object's __reduce__ raises
            nodes.append(node.name)
            reasons.append(f"node '{node.name}': {type(exc).__name__}: {exc}")
    for name in sorted(pipeline.datasets()):
        if name not in catalog:
            continue
        dataset = catalog.get(name)
        if getattr(dataset, "_SINGLE_PROCESS", False):
            datasets.append(name)
            reasons.append(f"dataset '{name}': {type(dataset).__name__} works in one process only")
            continue
        try:
            dumps(dataset)
        except Exception as exc:  # as above
            datasets.append(name)
            reasons.append(f"dataset '{name}': {type(exc).__name__}: {exc}")
    if reasons:
        raise NotPortableError(
            "These cannot be sent to the Dask workers' processes:\n  - "
            + "\n  - ".join(reasons)
            + "\nNodes must be importable functions (no lambdas over local state, open files, "
            "locks or clients); datasets must be picklable (open connections belong in load() "
            "and save()). Or run on threads of this process: "
            "--runner-params processes=false (local cluster only).",
            nodes=nodes,
            datasets=datasets,
        )
    return dumps(catalog)


def _workers_in_process(client: Client) -> bool:
    workers = client.scheduler_info().get("workers", {})
    return bool(workers) and all(address.startswith("inproc://") for address in workers)


def _check_resources(client: Client, options: dict[Node, NodeOptions]) -> None:
    """Refuse nodes that ask for more of a resource than any worker has: Dask would wait for
    such a worker forever."""
    wanted = {node: opts.resources for node, opts in options.items() if opts.resources}
    if not wanted:
        return
    workers = client.scheduler_info().get("workers", {}).values()
    offered = [worker.get("resources", {}) for worker in workers]
    for node, resources in wanted.items():
        if any(all(offer.get(k, 0) >= v for k, v in resources.items()) for offer in offered):
            continue
        asked = ", ".join(f"{k}={v:g}" for k, v in resources.items())
        have = sorted({f"{k}={v:g}" for offer in offered for k, v in offer.items()}) or ["none"]
        raise ClusterConfigError(
            f"Node '{node.name}' needs worker resources {asked}, and no worker of the cluster "
            f"has that much (workers offer: {', '.join(have)}). Start workers with "
            f'`dask worker --resources "{asked.replace(", ", ",")}"`, or change the node\'s '
            "dask.resources tags.",
            key="dask.resources",
            node=node.name,
        )


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


class _Schedule:
    """One run's bookkeeping: what is submitted, done, and still needed."""

    def __init__(
        self,
        runner: DaskRunner,
        pipeline: Pipeline,
        catalog: CatalogProtocol,
        client: Client,
        options: dict[Node, NodeOptions],
        memory: set[str],
        run_id: str | None,
    ) -> None:
        self.runner = runner
        self.pipeline = pipeline
        self.catalog = catalog
        self.client = client
        self.options = options
        self.memory = memory
        self.run_id = run_id
        self.token = uuid.uuid4().hex[:8]
        self.dependencies = pipeline.node_dependencies
        self.todo = set(pipeline.nodes)
        self.done: set[Node] = set()
        self.running: dict[Future, Node] = {}
        self.data: dict[str, Future] = {}
        # How many nodes still to finish read each in-memory dataset.
        self.readers = Counter(
            name for node in pipeline.nodes for name in node.inputs if name in memory
        )
        self.keep = set(pipeline.outputs()) & memory

    def run(self, payload: bytes | None, *, in_process: bool) -> None:
        """Run every node; ``payload`` is the pickled catalog for worker processes, ``None``
        for worker threads of this process (the catalog and nodes then travel by name)."""
        from distributed import as_completed

        from lab2prod.runner import task

        self.in_process = in_process
        if in_process:
            payload = task.share_in_process(self.token, self.catalog)
            task.share_in_process(f"{self.token}-nodes", {n.name: n for n in self.pipeline.nodes})
        self.catalog_future = self.client.submit(
            task.load_catalog, payload, key=f"kedro-catalog-{self.token}", pure=False
        )
        completed = as_completed()
        self._submit_ready(completed)
        try:
            for future in completed:
                node = self.running.pop(future)
                self._result(future, node)
                self.done.add(node)
                logger.info("Completed node: %s", node.name)
                total = len(self.pipeline.nodes)
                logger.info("Completed %d out of %d tasks", len(self.done), total)
                self._release(node)
                self._submit_ready(completed)
            if self.todo:
                names = sorted(n.name for n in self.todo)
                raise RuntimeError(f"Nodes {names} could not be scheduled: their inputs never came")
            for name in sorted(self.keep):
                self.catalog.save(name, self.data.pop(name).result())
        except BaseException:
            self.client.cancel(list(self.running))
            self.runner._suggest_resume_scenario(self.pipeline, self.done, self.catalog)
            raise
        finally:
            self.data.clear()
            self.running.clear()
            del self.catalog_future
            task.forget_in_process(self.token)
            task.forget_in_process(f"{self.token}-nodes")

    def _submit_ready(self, completed: Any) -> None:
        from lab2prod.runner.task import run_node

        ready = [node for node in self.pipeline.nodes if node in self.todo]
        ready = [node for node in ready if self.dependencies[node] <= self.done]
        for node in ready:
            self.todo.discard(node)
            opts = self.options[node]
            inputs = {name: self.data[name] for name in node.inputs if name in self.memory}
            outputs = [name for name in node.outputs if name in self.memory]
            future = self.client.submit(
                run_node,
                f"{self.token}-nodes:{node.name}" if self.in_process else node,
                self.catalog_future,
                inputs,
                outputs,
                self.run_id,
                self.runner._is_async,
                key=f"kedro-node-{node.name}-{self.token}",
                pure=False,
                retries=opts.retries or None,
                resources=opts.resources or None,
            )
            for name in outputs:
                self.data[name] = self.client.submit(
                    operator.getitem,
                    future,
                    name,
                    key=f"kedro-data-{name}-{self.token}",
                    pure=False,
                )
            self.running[future] = node
            completed.add(future)

    def _result(self, future: Future, node: Node) -> None:
        from distributed.scheduler import KilledWorker

        try:
            future.result()
        except KilledWorker as exc:
            raise NodeLostError(
                f"Node '{node.name}': every worker that ran it died (out of memory, killed, "
                "crashed) until Dask gave up. Give its workers more memory (memory_limit in "
                "conf/<env>/dask.yml, or a 'dask.resources.memory-...' tag and workers started "
                "with --resources), then run again.",
                node=node.name,
            ) from exc

    def _release(self, node: Node) -> None:
        """Let go of in-memory datasets no remaining node reads: Dask frees them."""
        for name in node.inputs:
            if name in self.readers:
                self.readers[name] -= 1
                if self.readers[name] < 1 and name not in self.keep:
                    self.data.pop(name, None)
        for name in node.outputs:
            if name in self.memory and self.readers[name] < 1 and name not in self.keep:
                self.data.pop(name, None)
