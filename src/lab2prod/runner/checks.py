"""What ``DaskRunner`` checks before the first task: what travels, and where it can run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kedro.io import MemoryDataset

from lab2prod.errors import ClusterConfigError, NotPortableError

if TYPE_CHECKING:
    from distributed import Client
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node

    from lab2prod.runner.tags import NodeOptions


def memory_datasets(pipeline: Pipeline, catalog: CatalogProtocol) -> set[str]:
    """Datasets that nodes of ``pipeline`` make and that live in memory: they travel as futures."""
    made = {name for node in pipeline.nodes for name in node.outputs}
    return {
        name for name in made if name not in catalog or isinstance(catalog.get(name), MemoryDataset)
    }


def portable_payload(pipeline: Pipeline, catalog: CatalogProtocol) -> bytes:
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


def workers_in_process(client: Client) -> bool:
    workers = client.scheduler_info().get("workers", {})
    return bool(workers) and all(address.startswith("inproc://") for address in workers)


def check_resources(client: Client, options: dict[Node, NodeOptions]) -> None:
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
