"""The run manifest: one JSON file per ``kedro run`` saying what produced what.

Register :class:`ManifestHooks` in the project's ``settings.py``::

    from lab2prod.lineage import ManifestHooks
    HOOKS = (ManifestHooks(),)

Each run writes ``data/09_tracking/runs/<run id>.json`` (the run id is Kedro's session id): when
it starts (``"status": "running"``), after each node, and when it ends (``"succeeded"`` or
``"failed"`` with the error), each time atomically. It holds the command and pipelines, the git
commit and a hash of the uncommitted diff, the lockfile's hash, the environment, the notebooks
the converted pipelines came from with their recorded hashes, the resolved parameters and their
hash, every dataset read or written (catalog type, file, version, content fingerprint), and
every node (its code fingerprint, the parameters and input fingerprints it ran on, its outputs'
fingerprints, and whether it ran or was cached and why).

Fingerprints come from files (``lineage.fingerprints``), never from loading data. Each node
that finishes also becomes the cache's record of it (``store.NodeIndex``), which is what
``kedro run --cache`` compares with.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro.framework.hooks import hook_impl

from lab2prod.lineage import store
from lab2prod.lineage.fingerprints import (
    FileMemo,
    NotFingerprintable,
    dataset_fingerprint,
    dataset_version,
    file_location,
    plain,
    value_digest,
)

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node

    from lab2prod.lineage.code import CodeScanner

logger = logging.getLogger(__name__)

MANIFEST_TAG = "lab2prod.run_manifest"
"""MLflow tag (and BentoML model provenance key) naming the run manifest."""


DISABLE_ENV = "LAB2PROD_LINEAGE"
"""``LAB2PROD_LINEAGE=off`` turns the manifest and the cache's records off (the baseline of the
cache benchmark); ``kedro run --cache`` then refuses to run."""


def is_parameter(name: str) -> bool:
    """Whether a node input is a parameter (``params:...`` or ``parameters``)."""
    return name.startswith("params:") or name == "parameters"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class ManifestHooks:
    """Writes the run manifest of every ``kedro run`` and the cache's per-node records."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.project_path: Path | None = None
        self._package: str | None = None
        self._source_dir: Path | None = None
        self._parameters: dict[str, Any] = {}
        self._run: _Run | None = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        from kedro.framework.project import PACKAGE_NAME

        self.project_path = Path(context.project_path)
        self._package = PACKAGE_NAME
        # The cache's per-node decisions are INFO lines; Kedro's logging configuration shows
        # INFO for `kedro` only, so lab2prod.lineage gets INFO unless configured otherwise.
        lineage_logger = logging.getLogger("lab2prod.lineage")
        if lineage_logger.level == logging.NOTSET:
            lineage_logger.setLevel(logging.INFO)
        self._source_dir = _source_dir(self.project_path)
        self._env = context.env
        self._context = context

    # trylast: kedro-mlflow opens its run in its own before_pipeline_run.
    @hook_impl(trylast=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        project_path = self.project_path or Path(run_params.get("project_path") or Path.cwd())
        self.project_path = project_path
        if os.environ.get(DISABLE_ENV, "").strip().lower() in ("0", "false", "off", "no"):
            self._run = None
            return
        try:
            parameters = plain(self._context.params)
        except AttributeError:
            parameters = {}
        self._run = _Run(
            project_path=project_path,
            run_params=run_params,
            pipeline=pipeline,
            catalog=catalog,
            parameters=parameters,
            scanner=self.scanner(),
        )
        self._run.write()

    def scanner(self) -> CodeScanner:
        """A code scanner for this project (the cache's decisions use the same one)."""
        from lab2prod.lineage.code import CodeScanner

        return CodeScanner(package=self._package, source_dir=self._source_dir)

    @property
    def run(self) -> _Run | None:
        """The run in progress (``None`` outside ``kedro run``)."""
        return self._run

    @hook_impl
    def before_dataset_loaded(self, dataset_name: str, node: Node) -> None:
        if self._run is not None and not is_parameter(dataset_name):
            self._run.read(dataset_name, node)

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any, node: Node) -> None:
        if self._run is not None and is_parameter(dataset_name):
            self._run.parameter(dataset_name, data, node)

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        if self._run is not None:
            self._run.node_started(node)

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        if self._run is not None:
            self._run.node_ran(node)

    @hook_impl
    def on_node_error(self, error: Exception, node: Node) -> None:
        if self._run is not None:
            self._run.node_failed(node, error)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, node: Node) -> None:
        if self._run is not None:
            self._run.written(dataset_name, node)

    @hook_impl
    def after_pipeline_run(self) -> None:
        if self._run is not None:
            self._run.finish("succeeded")
            self._run = None

    @hook_impl
    def on_pipeline_error(self, error: Exception) -> None:
        if self._run is not None:
            self._run.finish("failed", error)
            self._run = None


class _Run:
    """The manifest of the run in progress, updated from the runner's threads."""

    def __init__(
        self,
        *,
        project_path: Path,
        run_params: dict[str, Any],
        pipeline: Pipeline,
        catalog: CatalogProtocol,
        parameters: dict[str, Any],
        scanner: CodeScanner,
    ) -> None:
        from lab2prod import tracking
        from lab2prod.lineage.state import (
            environment_state,
            git_state,
            lock_state,
            notebook_state,
        )

        self._lock = threading.RLock()
        self.project_path = project_path
        self.catalog = catalog
        self.scanner = scanner
        self.run_id = str(run_params.get("run_id") or run_params.get("session_id"))
        self.path = store.manifest_path(project_path, self.run_id)
        self.memo = FileMemo(store.cache_dir(project_path) / "files.json")
        self.index = store.NodeIndex(project_path)
        self._started = time.monotonic()
        self._node_started: dict[str, float] = {}
        self._pending: dict[str, dict[str, Any]] = {}
        self._producers = {name: n.name for n in pipeline.nodes for name in n.outputs}
        mlflow_run = tracking.active_run()
        if mlflow_run is not None:
            tracking.set_run_tags(mlflow_run, {MANIFEST_TAG: self.run_id})
        self.manifest: dict[str, Any] = {
            "manifest_version": store.MANIFEST_VERSION,
            "run_id": self.run_id,
            "status": "running",
            "started": _now(),
            "finished": None,
            "duration_s": None,
            "error": None,
            "command": [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv else [],
            "pipelines": run_params.get("pipeline_names") or ["__default__"],
            "run_params": {
                key: _without_address(plain(run_params.get(key)))
                for key in (
                    "env",
                    "tags",
                    "node_names",
                    "from_nodes",
                    "to_nodes",
                    "from_inputs",
                    "to_outputs",
                    "namespaces",
                    "load_versions",
                    "runtime_params",
                    "runner",
                    "only_missing_outputs",
                    "kedro_version",
                )
            },
            "git": git_state(project_path),
            "lock": lock_state(project_path),
            "environment": environment_state(),
            "notebooks": notebook_state(project_path),
            "parameters": {"sha256": value_digest(parameters), "values": parameters},
            "mlflow": mlflow_run.as_dict() if mlflow_run is not None else None,
            "cache": None,
            "nodes": {node.name: {"status": "pending"} for node in pipeline.nodes},
            "datasets": {},
        }

    # --- datasets ---------------------------------------------------------------------------

    def fingerprint(self, name: str) -> dict[str, Any] | None:
        """The fingerprint of dataset ``name`` now: from its files; for an in-memory dataset,
        the node that makes it; ``None`` when it holds nothing yet."""
        dataset = self.catalog.get(name)
        if dataset is None:
            return {"kind": "memory", "producer": self._producers.get(name)}
        try:
            return dataset_fingerprint(dataset, self.memo)
        except NotFingerprintable as exc:
            if getattr(dataset, "_EPHEMERAL", False):
                return {"kind": "memory", "producer": self._producers.get(name)}
            return {"kind": "unknown", "why": str(exc)}
        except Exception as exc:  # storage errors are the load's to report
            # A storage that refuses (a wrong secret, a missing bucket) must not fail the run
            # here, with the storage client's traceback: Kedro's load names the dataset and the
            # cause. Unknown is never equal to anything, so `--cache` runs the node.
            return {"kind": "unknown", "why": f"{type(exc).__name__}: {exc}"}

    def _dataset_entry(self, name: str) -> dict[str, Any]:
        entry = self.manifest["datasets"].get(name)
        if entry is None:
            dataset = self.catalog.get(name)
            location = file_location(dataset) if dataset is not None else None
            filepath = location[2] if location else None
            if filepath and location[1] in ("file", "local"):
                filepath = _relative(Path(filepath), self.project_path)
            entry = {
                "type": _class_path(dataset) if dataset is not None else "MemoryDataset",
                "filepath": filepath,
                "protocol": location[1] if location else None,
                "read_by": [],
                "written_by": None,
            }
            self.manifest["datasets"][name] = entry
        return entry

    def read(self, name: str, node: Node) -> None:
        fingerprint = self.fingerprint(name)
        dataset = self.catalog.get(name)
        with self._lock:
            entry = self._dataset_entry(name)
            entry["read_by"].append(node.name)
            entry.setdefault("version_read", dataset_version(dataset) if dataset else None)
            entry.setdefault("fingerprint_read", fingerprint)
            self._pending_of(node)["inputs"][name] = fingerprint

    def parameter(self, name: str, value: Any, node: Node) -> None:
        value = plain(value)
        with self._lock:
            self._pending_of(node)["parameters"][name] = {
                "digest": value_digest(value),
                "value": value,
            }

    def written(self, name: str, node: Node) -> None:
        dataset = self.catalog.get(name)
        fingerprint = self.fingerprint(name)
        with self._lock:
            entry = self._dataset_entry(name)
            entry["written_by"] = node.name
            entry["version_written"] = dataset_version(dataset) if dataset else None
            entry["fingerprint_written"] = fingerprint
            pending = self._pending_of(node)
            pending["outputs"][name] = fingerprint
            if set(pending["outputs"]) >= set(node.outputs) and pending.get("ran"):
                self._complete(node)

    # --- nodes ------------------------------------------------------------------------------

    def _pending_of(self, node: Node) -> dict[str, Any]:
        pending = self._pending.get(node.name)
        if pending is None:
            pending = {"inputs": {}, "parameters": {}, "outputs": {}}
            self._pending[node.name] = pending
        return pending

    def node_started(self, node: Node) -> None:
        code = self.scanner.fingerprint(node.func).as_dict()
        with self._lock:
            self._node_started[node.name] = time.monotonic()
            self._pending_of(node)["code"] = code
            self.manifest["nodes"][node.name] = {
                **self.manifest["nodes"].get(node.name, {}),
                "status": "running",
            }

    def node_ran(self, node: Node) -> None:
        with self._lock:
            pending = self._pending_of(node)
            pending["ran"] = True
            pending["duration_s"] = round(
                time.monotonic() - self._node_started.get(node.name, time.monotonic()), 3
            )
            if not node.outputs:
                self._complete(node)

    def node_failed(self, node: Node, error: Exception) -> None:
        with self._lock:
            self.manifest["nodes"][node.name] = {
                **self.manifest["nodes"].get(node.name, {}),
                "status": "failed",
                "error": f"{type(error).__name__}: {error}",
            }
            self.write()

    def _complete(self, node: Node) -> None:
        pending = self._pending.pop(node.name)
        record = {
            "run_id": self.run_id,
            "finished": _now(),
            "duration_s": pending.get("duration_s"),
            "code": pending.get("code"),
            "parameters": pending["parameters"],
            "inputs": pending["inputs"],
            "outputs": pending["outputs"],
        }
        previous = self.manifest["nodes"].get(node.name, {})
        self.manifest["nodes"][node.name] = {
            "status": "ran",
            "reason": previous.get("reason"),
            **record,
        }
        self.index.put(node.name, record)
        self.write()

    def cached(self, node: Node, record: dict[str, Any]) -> None:
        """Note that ``node`` was not run: ``record`` (its last execution) still holds."""
        with self._lock:
            self.manifest["nodes"][node.name] = {"status": "cached", **record}
            for name, fingerprint in record.get("outputs", {}).items():
                entry = self._dataset_entry(name)
                entry["written_by"] = node.name
                entry["written_by_run"] = record.get("run_id")
                entry["fingerprint_written"] = fingerprint

    def will_run(self, node: Node, reason: str) -> None:
        """Note why ``node`` runs (``kedro run --cache``)."""
        with self._lock:
            self.manifest["nodes"][node.name] = {
                **self.manifest["nodes"].get(node.name, {}),
                "reason": reason,
            }

    def note_cache(self, summary: dict[str, Any]) -> None:
        """Record the cache's decisions and what they cost."""
        with self._lock:
            self.manifest["cache"] = summary
            self.write()

    # --- the file ---------------------------------------------------------------------------

    def write(self) -> None:
        with self._lock:
            store.write_json(self.path, self.manifest)

    def finish(self, status: str, error: BaseException | None = None) -> None:
        with self._lock:
            self.manifest["status"] = status
            self.manifest["finished"] = _now()
            self.manifest["duration_s"] = round(time.monotonic() - self._started, 3)
            if error is not None:
                self.manifest["error"] = {"type": type(error).__name__, "message": str(error)}
            for name, entry in self.manifest["nodes"].items():
                if entry.get("status") not in ("pending", "running"):
                    continue
                if status == "succeeded":
                    # Run in another process (ParallelRunner, Dask workers): not recorded here.
                    entry["status"] = "unrecorded"
                elif name in self._pending:
                    entry["status"] = "failed"
                else:
                    entry["status"] = "not run"
            self.memo.save()
            self.write()
        logger.info("Run manifest: %s", _relative(self.path, self.project_path))


def _without_address(value: Any) -> Any:
    """``<CachingSequentialRunner object at 0x7f...>`` (how Kedro records a runner) without the
    address, which would differ in every manifest."""
    import re

    if isinstance(value, str):
        return re.sub(r"<([\w.]+) object at 0x[0-9a-f]+>", r"\1", value)
    return value


def _class_path(dataset: Any) -> str:
    cls = type(dataset)
    return f"{cls.__module__}.{cls.__qualname__}"


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _source_dir(project_path: Path) -> Path:
    """``[tool.kedro] source_dir`` of the project's ``pyproject.toml`` (``src`` by default)."""
    import tomllib

    try:
        config = tomllib.loads((project_path / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return project_path / "src"
    return project_path / config.get("tool", {}).get("kedro", {}).get("source_dir", "src")
