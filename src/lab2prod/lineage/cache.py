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

With the sequential runner, a node planned to run only because its inputs are re-made is
checked again when its turn comes, and skipped if they came out as recorded (``cutoff``).

The runner is any Kedro runner with the decisions in front: ``CachingRunner`` is
``SequentialRunner`` with them, :func:`caching_runner` wraps the runner it is given
(``kedro run --cache --runner ParallelRunner``, ``--runner lab2prod.runner.DaskRunner``). The
decisions are made in this process before the runner starts; the nodes it runs in other
processes are recorded from this process as each one finishes.
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
from lab2prod.lineage.cutoff import Plan, run_with_cut_off
from lab2prod.lineage.fingerprints import plain, value_digest
from lab2prod.lineage.manifest import ManifestHooks, is_parameter

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline.node import Node
    from pluggy import PluginManager

    from lab2prod.lineage.record import RunRecord

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


def decide(pipeline: Pipeline, catalog: CatalogProtocol, run: RunRecord) -> list[Decision]:
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
            if node.name not in running and any(producers.get(n) in running for n in node.inputs):
                running.add(node.name)
                changed = True
    # A node that runs only for re-made inputs names them all: the early cut-off checks each.
    for node in nodes:
        decision = decisions[node.name]
        if node.name not in running or len(decision.remade) != len(decision.reasons):
            continue
        for name in node.inputs:
            if producers.get(name) in running and name not in decision.remade:
                decision.reasons.append(f"input {name} is re-made by {producers[name]}")
                decision.remade.append(name)
    return [decisions[node.name] for node in nodes]


def _changes(
    node: Node,
    decision: Decision,
    catalog: CatalogProtocol,
    run: RunRecord,
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
            elif not same_digest(current, old):
                reasons.append(f"input {name} changed")
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


def same_digest(current: dict[str, Any] | None, recorded: dict[str, Any] | None) -> bool:
    """Whether two fingerprints have the same digest (no digest is never the same)."""
    digest = (current or {}).get("digest")
    return bool(digest) and digest == (recorded or {}).get("digest")


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
    """Kedro's ``run`` with the cache's decisions in front: only the nodes that must, run.

    Whatever the runner, the nodes it runs are recorded from this process as each finishes
    (``_node_completed``): hooks in worker processes (``ParallelRunner``, Dask workers) cannot
    write this run's manifest. With ``cache=False`` it only records.
    """

    _lab2prod_cache = True
    _lab2prod_run: RunRecord | None = None
    _lab2prod_plan: Plan | None = None

    def run(
        self,
        pipeline: Pipeline,
        catalog: CatalogProtocol,
        hook_manager: PluginManager | None = None,
        run_id: str | None = None,
        only_missing_outputs: bool = False,
    ) -> dict[str, Any]:
        run = _run_of(hook_manager, required=self._lab2prod_cache)
        self._lab2prod_run = run
        try:
            if run is not None and self._lab2prod_cache:
                pipeline = self._plan(pipeline, catalog, run)
            return super().run(  # type: ignore[misc]
                pipeline, catalog, hook_manager, run_id, only_missing_outputs
            )
        finally:
            self._lab2prod_plan = None
            self._lab2prod_run = None

    def _plan(self, pipeline: Pipeline, catalog: CatalogProtocol, run: RunRecord) -> Pipeline:
        """Decide, log and note every node; the pipeline of the nodes that run."""
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
        self._lab2prod_plan = Plan(run, {d.node: d for d in decisions}, summary)
        return Pipeline(to_run)

    def _run(
        self,
        pipeline: Pipeline,
        catalog: CatalogProtocol,
        hook_manager: PluginManager | None = None,
        run_id: str | None = None,
    ) -> None:
        plan = self._lab2prod_plan
        if plan is None or not isinstance(self, SequentialRunner):
            super()._run(pipeline, catalog, hook_manager, run_id)  # type: ignore[misc]
            return
        run_with_cut_off(self, pipeline, catalog, hook_manager, run_id, plan)

    def _node_completed(self, node: Node) -> None:
        """Record ``node``, which just finished, unless its hooks did (same process)."""
        if self._lab2prod_run is not None:
            self._lab2prod_run.completed(node)

    def _release_datasets(
        self, node: Node, catalog: CatalogProtocol, load_counts: dict, pipeline: Pipeline
    ) -> None:
        # Kedro's runners call this in the runner's process after each node finishes.
        self._node_completed(node)
        super()._release_datasets(node, catalog, load_counts, pipeline)  # type: ignore[misc]


def _run_of(hook_manager: PluginManager | None, *, required: bool = True) -> RunRecord | None:
    plugins = hook_manager.get_plugins() if hook_manager is not None else ()
    for plugin in plugins:
        if isinstance(plugin, ManifestHooks) and plugin.run is not None:
            return plugin.run
    if not required:
        return None
    raise LineageError(
        "kedro run --cache compares with the records lab2prod's run manifest keeps: register "
        "its hooks in the project's settings.py (from lab2prod.lineage import ManifestHooks; "
        "HOOKS = (..., ManifestHooks())), and run it inside a Kedro session (`kedro run`)."
    )


class CachingRunner(_CachingMixin, SequentialRunner):
    """``SequentialRunner`` that skips the nodes whose work is already done (see the module)."""


def caching_runner(runner: str = "SequentialRunner", *, cache: bool = True, **kwargs: Any) -> Any:
    """The runner ``runner`` (a Kedro runner's name or import path) with the cache in front.

    ``kedro run --cache`` passes the ``--runner`` asked for; from the command line without the
    flag: ``kedro run --runner lab2prod.lineage.caching_runner --runner-params
    runner=ThreadRunner``. With ``cache=False`` nothing is skipped: the nodes that the runner
    runs in other processes are only recorded (``kedro run --runner ParallelRunner`` does this
    for lab2prod's ``kedro run``).
    """
    from kedro.utils import load_obj

    base = load_obj(runner, "kedro.runner")
    if isinstance(base, type) and issubclass(base, _CachingMixin):
        instance = base(**kwargs)
    else:
        cls = type(f"Caching{base.__name__}", (_CachingMixin, base), {})
        instance = cls(**kwargs)
    instance._lab2prod_cache = cache
    return instance


def is_caching(runner: str) -> bool:
    """Whether ``runner`` (a name or import path) is already a caching runner."""
    base = _runner_object(runner)
    return base is caching_runner or (isinstance(base, type) and issubclass(base, _CachingMixin))


def records_elsewhere(runner: str) -> bool:
    """Whether ``runner`` runs nodes outside this process (their hooks cannot record them)
    and is not a caching runner already."""
    from kedro.runner import SequentialRunner, ThreadRunner

    base = _runner_object(runner)
    if base is None or is_caching(runner):
        return False
    return not (isinstance(base, type) and issubclass(base, SequentialRunner | ThreadRunner))


def _runner_object(runner: str) -> Any:
    from kedro.utils import load_obj

    try:
        return load_obj(runner, "kedro.runner")
    except (ImportError, AttributeError, ValueError):
        return None  # Kedro's own `kedro run` names the runner it cannot find
