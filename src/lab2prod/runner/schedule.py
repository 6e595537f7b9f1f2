"""One run of ``DaskRunner``: nodes submitted as their inputs are ready, in-memory data held
as futures until no remaining node reads it, failures turned into the run's error."""

from __future__ import annotations

import logging
import operator
import os
import uuid
from collections import Counter
from typing import TYPE_CHECKING, Any

from lab2prod.errors import NodeLostError

if TYPE_CHECKING:
    from distributed import Client, Future
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node

    from lab2prod.runner.dask import DaskRunner
    from lab2prod.runner.tags import NodeOptions

logger = logging.getLogger("lab2prod.runner.dask")


class Schedule:
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
        client_hooks: Any = None,
    ) -> None:
        self.runner = runner
        self.client_hooks = client_hooks
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
        # How many nodes of each `dask.limit.NAME-N` group are running.
        self.limited: Counter[str] = Counter()

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
                self.limited.subtract(self.options[node].limits.keys())
                self._result(future, node)
                self.done.add(node)
                self.runner._node_completed(node)
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
            opts = self.options[node]
            if any(self.limited[name] >= n for name, n in opts.limits.items()):
                continue  # its group is full: submitted when one of the group ends
            self.limited.update(opts.limits.keys())
            self.todo.discard(node)
            self._client_before_node_run(node)
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
                _node_threads(opts.threads),
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

    def _client_before_node_run(self, node: Node) -> None:
        """``before_node_run`` of the plugins kept off the workers, here on the client, with the
        node's parameters as its inputs (what such hooks read: kedro-mlflow logs them)."""
        if self.client_hooks is None:
            return
        inputs = {
            name: self.catalog.load(name)
            for name in node.inputs
            if name.startswith("params:") or name == "parameters"
        }
        self.client_hooks(
            node=node, catalog=self.catalog, inputs=inputs, is_async=False, run_id=self.run_id
        )

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


def _node_threads(threads: int | str | None) -> int | str | None:
    """A ``dask.threads-all`` node gets the ``OMP_NUM_THREADS`` this run was started with, when
    set, as ``SequentialRunner`` would give it; else every core of its worker's machine."""
    if threads == "all" and os.environ.get("OMP_NUM_THREADS", "").strip().isdigit():
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    return threads
