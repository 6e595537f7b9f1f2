"""What runs on a Dask worker for one node: Kedro's own ``Task``, on the run's catalog plus the
node's in-memory inputs, with the worker's hooks.

A node's in-memory inputs arrive as the values of Dask futures (the outputs of the nodes that
made them, wherever those ran); its in-memory outputs go back as the task's result, for Dask to
keep on the worker until no remaining node needs them. Persisted datasets are loaded and saved
here, by the worker, through the run's catalog, so ``validator:`` contracts and dataset hooks
act exactly as on one machine.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

_in_process: dict[str, Any] = {}
"""Catalogs of runs whose workers are threads of this process, by the run's token: Dask
serialises every task it is given, so these travel by name (see ``share_in_process``)."""


def share_in_process(token: str, catalog: Any) -> str:
    """Keep ``catalog`` for worker threads of this process; the token is what travels."""
    _in_process[token] = catalog
    return token


def forget_in_process(token: str) -> None:
    _in_process.pop(token, None)


def load_catalog(payload: bytes | str) -> Any:
    """The run's catalog from what the client sent: pickled bytes for worker processes, the
    token of a catalog kept in this process for worker threads."""
    return pickle.loads(payload) if isinstance(payload, bytes) else _in_process[payload]


def run_node(
    node: Any,
    catalog: Any,
    inputs: Mapping[str, Any],
    memory_outputs: Iterable[str],
    run_id: str | None,
    is_async: bool,
    threads: int | str | None = None,
) -> dict[str, Any]:
    """Run ``node`` with Kedro's ``Task`` and return its in-memory outputs.

    Args:
        node: The Kedro node, or ``"<token>-nodes:<name>"`` for one kept in this process.
        catalog: The run's catalog (the value of the catalog's future).
        inputs: The node's in-memory inputs, by dataset name.
        memory_outputs: Names of the node's outputs that stay in memory.
        run_id: The run's id, for hooks.
        is_async: Load and save with threads (``--async``).
        threads: The node's native threads (a ``dask.threads-*`` tag), ``"all"`` for every
            core of this machine; ``None`` keeps the worker's limit.

    Returns:
        The in-memory outputs, by name.
    """
    from kedro.runner.task import Task
    from kedro.validation import DataValidationError

    from lab2prod.runner.plugin import enter_task

    if isinstance(node, str):  # a node of a run on worker threads of this process
        nodes, name = node.split(":", 1)
        node = _in_process[nodes][name]
    node_catalog = NodeCatalog(catalog, inputs, memory_outputs)
    hook_manager = enter_task()
    try:
        with _native_threads(threads):
            Task(
                node=node,
                catalog=node_catalog,
                is_async=is_async,
                hook_manager=hook_manager,
                run_id=run_id,
            ).execute()
    except DataValidationError as exc:
        # Pickling drops __cause__ (pandera's report): keep every failure case on the error
        # itself, for the client's report (lab2prod.contracts.report.failure_cases).
        from lab2prod.contracts.report import failure_cases

        cases = failure_cases(exc)
        if cases is not None:
            exc.failure_cases = cases
        raise
    return node_catalog.outputs


@contextmanager
def _native_threads(threads: int | str | None) -> Iterator[None]:
    """Size this thread's OpenMP pools and the process's BLAS pools to ``threads`` while the
    node runs, then give the worker's limit back (threadpoolctl restores what it changed)."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    from lab2prod.threadpools import available_cores

    with threadpool_limits(limits=available_cores() if threads == "all" else int(threads)):
        yield


class NodeCatalog:
    """The run's catalog as one node sees it on a worker.

    In-memory inputs and outputs are held here; every other name goes to the run's catalog.
    Loading an in-memory input copies it the way Kedro's ``MemoryDataset`` does, so a node that
    changes its input cannot change another node's.
    """

    def __init__(self, catalog: Any, inputs: Mapping[str, Any], memory_outputs: Iterable[str]):
        self._catalog = catalog
        self._inputs = dict(inputs)
        self._memory_outputs = set(memory_outputs)
        self.outputs: dict[str, Any] = {}

    def load(self, name: str, version: str | None = None) -> Any:
        if name in self._inputs:
            return _copy(self._inputs[name])
        return self._catalog.load(name, version)

    def save(self, name: str, data: Any) -> None:
        if name in self._memory_outputs:
            self.outputs[name] = data
            return
        self._catalog.save(name, data)

    def confirm(self, name: str) -> None:
        self._catalog.confirm(name)

    def release(self, name: str) -> None:
        if name in self._inputs or name in self._memory_outputs:
            return
        self._catalog.release(name)

    def exists(self, name: str) -> bool:
        if name in self._inputs:
            return True
        if name in self._memory_outputs:
            return name in self.outputs
        return self._catalog.exists(name)

    def __contains__(self, name: str) -> bool:
        return name in self._inputs or name in self._memory_outputs or name in self._catalog

    def __getitem__(self, name: str) -> Any:
        return self._catalog[name]

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._catalog, attribute)


def _copy(data: Any) -> Any:
    # Kedro's own copy rules for in-memory datasets (DataFrames copied, other objects deep-copied,
    # some assigned as they are).
    from kedro.io.memory_dataset import _copy_with_mode, _infer_copy_mode

    return _copy_with_mode(data, copy_mode=_infer_copy_mode(data))
