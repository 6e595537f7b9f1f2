"""Node tags that ask Dask for retries, worker resources, native threads and limits.

Kedro tags may hold letters, digits, ``_``, ``.`` and ``-`` only, so the options read::

    node(train_model, ..., tags=["dask.retries-2", "dask.resources.memory-4GB", "dask.threads-all"])

- ``dask.retries-N``: when the node raises, Dask runs it again, up to N more times (a worker
  that dies under a node is always retried, by Dask itself, up to
  ``distributed.scheduler.allowed-failures`` times);
- ``dask.resources.NAME-AMOUNT``: the node runs only on a worker started with at least that much
  of resource NAME (``dask worker --resources "memory=16e9,GPU=1"``). AMOUNT is a number, or a
  size such as ``4GB`` or ``512MiB`` (``dask.utils.parse_bytes``);
- ``dask.threads-N``, ``dask.threads-all``: the node's native thread pools (OpenMP, BLAS) take N
  threads, or every core of the worker's machine, instead of the worker's share
  (``native_threads``): for a node that dominates its stage and can use the cores (a
  gradient-boosted model), as ``SequentialRunner`` gives it them (``all`` is the run's own
  ``OMP_NUM_THREADS`` when ``kedro run`` was started with one). The pools sized are those of
  libraries loaded when the node starts (what its module imports), and the worker's limit is
  back once it ends;
- ``dask.limit.NAME-N``: at most N of the nodes tagged ``dask.limit.NAME-N`` run at once, on
  whichever workers: for nodes that each need much of the cluster's memory (fits that each hold
  their own copy of a large table), which workers could otherwise run side by side. Dask's
  resources count per worker, so they cannot say "one at a time across the cluster"; the
  runner holds such a node back until one of its group ends. Every node of a group gives the
  same N.

Any other tag starting with ``dask.`` is an error, named with the node, before the run starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lab2prod.errors import ClusterConfigError, did_you_mean

if TYPE_CHECKING:
    from kedro.pipeline.node import Node

PREFIX = "dask."
_RETRIES = re.compile(r"dask\.retries-(?P<n>\d+)")
_RESOURCE = re.compile(r"dask\.resources\.(?P<name>[A-Za-z_][\w]*)-(?P<amount>[\w.]+)")
_THREADS = re.compile(r"dask\.threads-(?P<n>[1-9]\d*|all)")
_LIMIT = re.compile(r"dask\.limit\.(?P<name>[A-Za-z_][\w]*)-(?P<n>[1-9]\d*)")
_EXAMPLES = ("dask.retries-2", "dask.resources.memory-4GB", "dask.threads-all", "dask.limit.fit-1")


@dataclass(frozen=True)
class NodeOptions:
    """What a node's tags ask of Dask.

    Attributes:
        retries: How many more times Dask runs the node after it raises.
        resources: Worker resources the node needs, by name.
        threads: Native threads of the node (a number, or ``"all"`` cores of the worker's
            machine); ``None``: the worker's share.
        limits: The groups the node belongs to, each with how many of its nodes may run at
            once.
    """

    retries: int = 0
    resources: dict[str, float] = field(default_factory=dict)
    threads: int | str | None = None
    limits: dict[str, int] = field(default_factory=dict)


def node_options(node: Node, *, default_retries: int = 0) -> NodeOptions:
    """Read a node's ``dask.*`` tags.

    Args:
        node: The node.
        default_retries: Retries for a node without a ``dask.retries-N`` tag.

    Raises:
        ClusterConfigError: A ``dask.*`` tag is malformed, or two retries tags disagree.
    """
    retries: set[int] = set()
    resources: dict[str, float] = {}
    threads: set[int | str] = set()
    limits: dict[str, int] = {}
    for tag in sorted(node.tags):
        if not tag.startswith(PREFIX):
            continue
        if match := _RETRIES.fullmatch(tag):
            retries.add(int(match["n"]))
        elif match := _RESOURCE.fullmatch(tag):
            resources[match["name"]] = _amount(match["amount"], tag, node)
        elif match := _THREADS.fullmatch(tag):
            threads.add(match["n"] if match["n"] == "all" else int(match["n"]))
        elif match := _LIMIT.fullmatch(tag):
            if match["name"] in limits:
                raise ClusterConfigError(
                    f"Node '{node.name}' has several limits for the group '{match['name']}' "
                    f"({limits[match['name']]} and {match['n']}): keep one.",
                    key="dask.limit",
                    node=node.name,
                )
            limits[match["name"]] = int(match["n"])
        else:
            hint = did_you_mean(tag, _EXAMPLES, n=1, cutoff=0.5, sentence=True)
            hint = f" {hint}" if hint else ""
            raise ClusterConfigError(
                f"Node '{node.name}' has the tag '{tag}', which Dask cannot read.{hint} "
                "Tags starting with 'dask.' are 'dask.retries-N', "
                "'dask.resources.NAME-AMOUNT' (e.g. 'dask.resources.memory-4GB') and "
                "'dask.threads-N' or 'dask.threads-all', and 'dask.limit.NAME-N'.",
                key=tag,
                node=node.name,
            )
    if len(retries) > 1:
        raise ClusterConfigError(
            f"Node '{node.name}' has several retries tags {sorted(retries)}: keep one.",
            key="dask.retries",
            node=node.name,
        )
    if len(threads) > 1:
        raise ClusterConfigError(
            f"Node '{node.name}' has several threads tags {sorted(map(str, threads))}: keep one.",
            key="dask.threads",
            node=node.name,
        )
    return NodeOptions(
        retries=retries.pop() if retries else default_retries,
        resources=resources,
        threads=threads.pop() if threads else None,
        limits=limits,
    )


def check_limits(options: dict[Node, NodeOptions]) -> None:
    """Refuse a ``dask.limit.NAME-N`` group whose nodes give different N.

    Raises:
        ClusterConfigError: Naming the group and the nodes of each N.
    """
    groups: dict[str, dict[int, list[str]]] = {}
    for node, opts in options.items():
        for name, n in opts.limits.items():
            groups.setdefault(name, {}).setdefault(n, []).append(node.name)
    for name, by_n in sorted(groups.items()):
        if len(by_n) > 1:
            which = "; ".join(f"{n}: {sorted(nodes)}" for n, nodes in sorted(by_n.items()))
            raise ClusterConfigError(
                f"The nodes of the limit group '{name}' disagree on how many may run at once "
                f"({which}): give every 'dask.limit.{name}-N' tag the same N.",
                key=f"dask.limit.{name}",
            )


def _amount(text: str, tag: str, node: Node) -> float:
    from dask.utils import parse_bytes

    try:
        value = float(text) if re.fullmatch(r"\d+(\.\d+)?", text) else float(parse_bytes(text))
    except ValueError as exc:
        raise ClusterConfigError(
            f"Node '{node.name}': the amount '{text}' of tag '{tag}' is neither a number nor "
            "a size such as 4GB or 512MiB.",
            key=tag,
            node=node.name,
        ) from exc
    if value <= 0:
        raise ClusterConfigError(
            f"Node '{node.name}': the amount of tag '{tag}' must be positive.",
            key=tag,
            node=node.name,
        )
    return value
