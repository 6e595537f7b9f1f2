"""Early cut-off: a node planned to run only because its inputs are re-made is skipped after
all when they came out as recorded.

The cache plans before the first node runs (``cache.decide``); a node whose input's producer
runs is planned to run too. With the sequential runner each such node is checked again when
its turn comes: if every re-made input now has the fingerprint the node's record was made
from (a file with the same bytes, a small in-memory value equal to the recorded one, an
in-memory value made the same way), the node is cached after all. A change that does not
change a result stops where the result stops changing, as in content-aware build tools.

A node with in-memory outputs a later node reads is skipped only together with those readers
(its value is never made, so none of them may run): the group is cut off when each reader in
it runs only for inputs that are the same or made by the group, and nothing between decides
otherwise first.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node
    from pluggy import PluginManager

    from lab2prod.lineage.cache import Decision
    from lab2prod.lineage.record import RunRecord

logger = logging.getLogger("lab2prod.lineage.cache")


@dataclass
class Plan:
    """The cache's decisions for one run, and its counts."""

    run: RunRecord
    decisions: dict[str, Decision]
    summary: dict[str, Any]


def run_with_cut_off(
    runner: Any,
    pipeline: Pipeline,
    catalog: CatalogProtocol,
    hook_manager: PluginManager | None,
    run_id: str | None,
    plan: Plan,
) -> None:
    """Kedro's sequential loop (``AbstractRunner._run`` without an executor), with the early
    cut-off checked before each node."""
    from kedro.runner import Task

    nodes = pipeline.nodes
    load_counts = Counter(name for node in nodes for name in node.inputs)
    done: list[Node] = []
    skipped: set[str] = set()
    for index, node in enumerate(nodes):
        if node.name not in skipped:
            skipped |= cut_off_group(nodes, index, plan)
        if node.name in skipped:
            plan.run.cached(node, plan.decisions[node.name].record or {})
            plan.summary["cut_off"] += 1
            plan.summary["cached"] += 1
            plan.summary["ran"] -= 1
            logger.info("cached  %s: its re-made inputs came out the same", node.name)
        else:
            try:
                Task(
                    node=node,
                    catalog=catalog,
                    hook_manager=hook_manager,
                    is_async=runner._is_async,
                    run_id=run_id,
                ).execute()
            except Exception:
                runner._suggest_resume_scenario(pipeline, done, catalog)
                raise
            done.append(node)
            runner._logger.info("Completed node: %s", node.name)
            runner._logger.info("Completed %d out of %d tasks", len(done), len(nodes))
        runner._release_datasets(node, catalog, load_counts, pipeline)
    plan.run.note_cache(plan.summary)


def cut_off_group(nodes: list[Node], index: int, plan: Plan) -> set[str]:
    """The names of the nodes skipped with ``nodes[index]`` (itself included), or an empty set
    when it must run."""
    from lab2prod.lineage.cache import same_digest

    node = nodes[index]
    run = plan.run
    if not _only_remade(plan.decisions[node.name]):
        return set()
    record = plan.decisions[node.name].record or {}
    if not all(
        same_digest(run.fingerprint(name), (record.get("inputs") or {}).get(name))
        for name in plan.decisions[node.name].remade
    ):
        return set()
    group = {node.name}
    in_memory = {name for name in node.outputs if run.is_memory(name)}
    producers = {name: other.name for other in nodes for name in other.outputs}
    decided = {other.name for other in nodes[:index]}
    for later in nodes[index + 1 :]:
        if not in_memory & set(later.inputs):
            continue
        decision = plan.decisions[later.name]
        if not _only_remade(decision):
            return set()
        recorded = (decision.record or {}).get("inputs") or {}
        for name in decision.remade:
            producer = producers.get(name)
            if producer not in group and producer not in decided:
                return set()  # made by a node that has not had its turn yet
            if not same_digest(run.fingerprint(name), recorded.get(name)):
                return set()
        group.add(later.name)
        in_memory |= {name for name in later.outputs if run.is_memory(name)}
    return group


def _only_remade(decision: Decision) -> bool:
    """Whether the node was planned to run for re-made inputs and nothing else."""
    return (
        decision.record is not None
        and bool(decision.remade)
        and len(decision.remade) == len(decision.reasons)
    )
