"""Content-aware incremental runs: ``kedro run --cache`` skips nodes whose work is already done.

A node is skipped ("cached") when its last successful execution (``store.NodeIndex``) ran

- the same code (``lineage.code``: its function and every project function it uses, by
  normalised AST, and the versions of the packages they import),
- on the same resolved parameters, and on inputs with the same content fingerprints,

and every output it wrote then still holds what it wrote (same fingerprint). Otherwise it runs,
and the log and the run manifest say why: ``parameter training.model.max_iter changed (500 ->
100)``, ``input model_input changed``, ``code of build_features changed``, ``output model is
missing``. Decisions are made before the first node runs, in topological order:

- a node whose input is re-made by a node that runs, runs too (so does everything downstream);
- an in-memory output cannot be loaded from anywhere: a skipped node whose in-memory output a
  running node needs runs as well (as Kedro's ``--only-missing-outputs`` decides);
- a node tagged ``always_run`` always runs; so does a node whose inputs or outputs lab2prod
  cannot fingerprint (a database table, an API), saying so.

The runner is any Kedro runner with the decisions in front: ``CachingRunner`` is
``SequentialRunner`` with them, :func:`caching_runner` wraps the runner it is given
(``kedro run --cache --runner ThreadRunner``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING, Any

from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner

from lab2prod.errors import LineageError
from lab2prod.lineage.code import code_changes
from lab2prod.lineage.fingerprints import plain, value_digest
from lab2prod.lineage.manifest import ManifestHooks, is_parameter

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline.node import Node
    from pluggy import PluginManager

    from lab2prod.lineage.manifest import _Run

logger = logging.getLogger(__name__)

ALWAYS_RUN = "always_run"
"""The node tag that opts a node out of the cache."""
_MAX_PHRASES = 3


@dataclass
class Decision:
    """Whether a node runs, and why.

    Attributes:
        node: The node's name.
        reasons: Why it runs (empty: it is cached).
        record: Its last successful execution, if any.
        remade: The inputs it runs for because their producer runs (each also a reason).
    """

    node: str
    reasons: list[str] = field(default_factory=list)
    record: dict[str, Any] | None = None
    remade: list[str] = field(default_factory=list)

    @property
    def runs(self) -> bool:
        """Whether the node runs."""
        return bool(self.reasons)

    def render(self) -> str:
        """One line for the log."""
        if not self.runs:
            return f"cached  {self.node}"
        shown = self.reasons[:_MAX_PHRASES]
        more = len(self.reasons) - len(shown)
        return f"runs    {self.node}: {'; '.join(shown)}" + (f"; and {more} more" if more else "")


def decide(pipeline: Pipeline, catalog: CatalogProtocol, run: _Run) -> list[Decision]:
    """Which nodes of ``pipeline`` run, and why, in topological order."""
    nodes = pipeline.nodes
    producers = {name: node.name for node in nodes for name in node.outputs}
    fingerprints: dict[str, dict[str, Any] | None] = {}

    def fingerprint(name: str) -> dict[str, Any] | None:
        if name not in fingerprints:
            fingerprints[name] = run.fingerprint(name)
        return fingerprints[name]

    running: set[str] = set()
    decisions = {}
    for node in nodes:
        decision = Decision(node.name, record=run.index.get(node.name))
        if ALWAYS_RUN in node.tags:
            decision.reasons.append(f"tagged {ALWAYS_RUN}")
        if decision.record is None:
            decision.reasons.append("no earlier run of it recorded")
        else:
            decision.reasons += _changes(node, decision, catalog, run, fingerprint, running)
        if decision.runs:
            running.add(node.name)
        decisions[node.name] = decision

    # In-memory outputs live only while a run does: their producer runs when a consumer does.
    changed = True
    while changed:
        changed = False
        for node in reversed(nodes):
            if node.name in running:
                continue
            needed = [
                (name, consumer.name)
                for name in node.outputs
                if (fingerprint(name) or {}).get("kind") == "memory"
                for consumer in nodes
                if consumer.name in running and name in consumer.inputs
            ]
            if needed:
                name, consumer = needed[0]
                decisions[node.name].reasons.append(
                    f"its in-memory output {name} is needed by {consumer}, which runs"
                )
                running.add(node.name)
                changed = True
        for node in nodes:
            if node.name in running:
                continue
            for name in node.inputs:
                if producers.get(name) in running:
                    decisions[node.name].reasons.append(
                        f"input {name} is re-made by {producers[name]}"
                    )
                    decisions[node.name].remade.append(name)
                    running.add(node.name)
                    changed = True
                    break
    return [decisions[node.name] for node in nodes]


def _changes(
    node: Node,
    decision: Decision,
    catalog: CatalogProtocol,
    run: _Run,
    fingerprint: Any,
    running: set[str],
) -> list[str]:
    record = decision.record or {}
    reasons = code_changes(record.get("code") or {}, run.scanner.fingerprint(node.func).as_dict())
    producers = run._producers
    for name in node.inputs:
        if is_parameter(name):
            value = plain(catalog.load(name))
            old = (record.get("parameters") or {}).get(name)
            if old is None:
                reasons.append(f"parameter {_parameter_key(name)} is new to it")
            elif old.get("digest") != value_digest(value):
                reasons += parameter_changes(name, old.get("value"), value)
            continue
        if producers.get(name) in running:
            reasons.append(f"input {name} is re-made by {producers[name]}")
            decision.remade.append(name)
            continue
        current = fingerprint(name)
        old = (record.get("inputs") or {}).get(name)
        if current is None:
            reasons.append(f"input {name} does not exist")
        elif current.get("kind") == "memory":
            if producers.get(name) is None:
                reasons.append(f"input {name} is in memory, made outside this run")
        elif current.get("kind") == "unknown":
            reasons.append(f"input {name} cannot be fingerprinted ({current.get('why')})")
        elif old is None or old.get("digest") != current.get("digest"):
            reasons.append(f"input {name} changed")
    for name in node.outputs:
        current = fingerprint(name)
        old = (record.get("outputs") or {}).get(name)
        if current is None:
            reasons.append(f"output {name} is missing")
        elif current.get("kind") == "memory":
            continue
        elif current.get("kind") == "unknown":
            reasons.append(f"output {name} cannot be fingerprinted ({current.get('why')})")
        elif old is None or old.get("digest") != current.get("digest"):
            reasons.append(f"output {name} changed since it was written")
    return reasons


def parameter_changes(name: str, old: Any, new: Any) -> list[str]:
    """One phrase per leaf key that differs: ``parameter training.max_iter changed (500 ->
    100)``."""
    prefix = _parameter_key(name) if name != "parameters" else ""
    before, after = dict(_flatten(old, prefix)), dict(_flatten(new, prefix))
    phrases = []
    for key in sorted(set(before) | set(after)):
        if key not in before:
            phrases.append(f"parameter {key} was added ({after[key]!r})")
        elif key not in after:
            phrases.append(f"parameter {key} was removed")
        elif before[key] != after[key]:
            phrases.append(f"parameter {key} changed ({before[key]!r} -> {after[key]!r})")
    return phrases or [f"parameter {prefix or 'parameters'} changed"]


def _parameter_key(name: str) -> str:
    return name.removeprefix("params:")


def _flatten(value: Any, prefix: str) -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        items = []
        for key, item in value.items():
            items += _flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return items
    return [(prefix, value)]


class _CachingMixin:
    """Kedro's ``run`` with the cache's decisions in front: only the nodes that must, run."""

    def run(
        self,
        pipeline: Pipeline,
        catalog: CatalogProtocol,
        hook_manager: PluginManager | None = None,
        run_id: str | None = None,
        only_missing_outputs: bool = False,
    ) -> dict[str, Any]:
        run = _run_of(hook_manager)
        started = perf_counter()
        decisions = decide(pipeline, catalog, run)
        by_name = {node.name: node for node in pipeline.nodes}
        for decision in decisions:
            node = by_name[decision.node]
            if decision.runs:
                run.will_run(node, "; ".join(decision.reasons))
            else:
                run.cached(node, decision.record or {})
        to_run = [by_name[d.node] for d in decisions if d.runs]
        cached = len(decisions) - len(to_run)
        summary = {
            "nodes": len(decisions),
            "cached": cached,
            "ran": len(to_run),
            "cut_off": 0,
            "decided_in_s": round(perf_counter() - started, 3),
        }
        run.note_cache(summary)
        logger.info(
            "Cache: %d of %d nodes cached, %d to run (decided in %.2f s)",
            cached,
            len(decisions),
            len(to_run),
            perf_counter() - started,
        )
        for decision in decisions:
            logger.info("%s", decision.render())
        self._lab2prod_plan = _Plan(run, {d.node: d for d in decisions}, summary)
        try:
            return super().run(  # type: ignore[misc]
                Pipeline(to_run), catalog, hook_manager, run_id, only_missing_outputs
            )
        finally:
            self._lab2prod_plan = None

    def _run(
        self,
        pipeline: Pipeline,
        catalog: CatalogProtocol,
        hook_manager: PluginManager | None = None,
        run_id: str | None = None,
    ) -> None:
        plan = getattr(self, "_lab2prod_plan", None)
        if plan is None or not isinstance(self, SequentialRunner):
            super()._run(pipeline, catalog, hook_manager, run_id)  # type: ignore[misc]
            return
        _run_with_cut_off(self, pipeline, catalog, hook_manager, run_id, plan)


@dataclass
class _Plan:
    run: _Run
    decisions: dict[str, Decision]
    summary: dict[str, Any]


def _run_with_cut_off(
    runner: Any,
    pipeline: Pipeline,
    catalog: CatalogProtocol,
    hook_manager: PluginManager | None,
    run_id: str | None,
    plan: _Plan,
) -> None:
    """Kedro's sequential loop, with one more check before each node: a node that runs only
    because an input is re-made is skipped after all when every such input came out with the
    content it had (early cut-off), unless a later node needs its in-memory outputs."""
    from collections import Counter

    from kedro.runner import Task

    nodes = pipeline.nodes
    load_counts = Counter(name for node in nodes for name in node.inputs)
    done: list[Node] = []
    for index, node in enumerate(nodes):
        decision = plan.decisions[node.name]
        if _came_out_the_same(node, decision, plan.run, nodes[index + 1 :]):
            plan.run.cached(node, decision.record or {})
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


def _came_out_the_same(node: Node, decision: Decision, run: _Run, later: list[Node]) -> bool:
    if decision.record is None or not decision.remade:
        return False
    if len(decision.remade) != len(decision.reasons):
        return False  # it runs for another reason as well
    recorded = decision.record.get("inputs") or {}
    for name in decision.remade:
        current = run.fingerprint(name) or {}
        if current.get("kind") in ("memory", "unknown", None):
            return False
        if current.get("digest") != (recorded.get(name) or {}).get("digest"):
            return False
    for name in node.outputs:
        if (run.fingerprint(name) or {}).get("kind") == "memory" and any(
            name in other.inputs for other in later
        ):
            return False
    return True


def _run_of(hook_manager: PluginManager | None) -> _Run:
    plugins = hook_manager.get_plugins() if hook_manager is not None else ()
    for plugin in plugins:
        if isinstance(plugin, ManifestHooks) and plugin.run is not None:
            return plugin.run
    raise LineageError(
        "kedro run --cache compares with the records lab2prod's run manifest keeps: register "
        "its hooks in the project's settings.py (from lab2prod.lineage import ManifestHooks; "
        "HOOKS = (..., ManifestHooks())), and run it inside a Kedro session (`kedro run`)."
    )


class CachingRunner(_CachingMixin, SequentialRunner):
    """``SequentialRunner`` that skips the nodes whose work is already done (see the module)."""


def caching_runner(runner: str = "SequentialRunner", **kwargs: Any) -> Any:
    """The runner ``runner`` (a Kedro runner's name or import path) with the cache in front.

    ``kedro run --cache`` passes the ``--runner`` asked for; from the command line without the
    flag: ``kedro run --runner lab2prod.lineage.caching_runner --runner-params
    runner=ThreadRunner``.
    """
    from kedro.utils import load_obj

    base = load_obj(runner, "kedro.runner")
    if isinstance(base, type) and issubclass(base, _CachingMixin):
        return base(**kwargs)
    cls = type(f"Caching{base.__name__}", (_CachingMixin, base), {})
    return cls(**kwargs)
