"""The record of the run in progress: its manifest, and the cache's record of each node it runs.

``ManifestHooks`` (``manifest.py``) makes one per ``kedro run`` and feeds it from Kedro's hooks;
the caching runner feeds it the nodes that ran in other processes (:meth:`RunRecord.completed`).
Each node that finishes becomes the cache's record of it (``store.NodeIndex``).
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

from lab2prod.lineage import store
from lab2prod.lineage.fingerprints import (
    FileMemo,
    NotFingerprintable,
    dataset_fingerprint,
    dataset_version,
    file_location,
    plain,
    small_value_digest,
    value_digest,
)

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node

    from lab2prod.lineage.code import CodeScanner

logger = logging.getLogger("lab2prod.lineage.manifest")

MANIFEST_TAG = "lab2prod.run_manifest"
"""MLflow tag (and BentoML model provenance key) naming the run manifest."""

_UNSEEN = object()
"""The value of an output saved in another process."""


def is_parameter(name: str) -> bool:
    """Whether a node input is a parameter (``params:...`` or ``parameters``)."""
    return name.startswith("params:") or name == "parameters"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class RunRecord:
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
        self.pid = os.getpid()
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
        what the last recorded execution of the node that makes it wrote (see
        :meth:`_memory_output`); ``None`` when it holds nothing yet."""
        dataset = self.catalog.get(name)
        if dataset is None:
            return self._memory(name)
        try:
            return dataset_fingerprint(dataset, self.memo)
        except NotFingerprintable as exc:
            if getattr(dataset, "_EPHEMERAL", False):
                return self._memory(name)
            return {"kind": "unknown", "why": str(exc)}
        except Exception as exc:  # storage errors are the load's to report
            # A storage that refuses (a wrong secret, a missing bucket) must not fail the run
            # here, with the storage client's traceback: Kedro's load names the dataset and the
            # cause. Unknown is never equal to anything, so `--cache` runs the node.
            return {"kind": "unknown", "why": f"{type(exc).__name__}: {exc}"}

    def _memory(self, name: str) -> dict[str, Any]:
        producer = self._producers.get(name)
        record = self.index.get(producer) if producer is not None else None
        written = ((record or {}).get("outputs") or {}).get(name) or {}
        return {"kind": "memory", "producer": producer, "digest": written.get("digest")}

    def is_memory(self, name: str) -> bool:
        """Whether dataset ``name`` lives in memory (a `MemoryDataset` or an undeclared name)."""
        dataset = self.catalog.get(name)
        return dataset is None or bool(getattr(dataset, "_EPHEMERAL", False))

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

    def written(self, name: str, node: Node, data: Any = _UNSEEN) -> None:
        dataset = self.catalog.get(name)
        if self.is_memory(name):
            # By content when small and plain, else filled in by _complete (how it was made).
            fingerprint = {
                "kind": "memory",
                "producer": node.name,
                "digest": None if data is _UNSEEN else small_value_digest(data),
            }
        else:
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

    def completed(self, node: Node) -> None:
        """Record ``node``, which finished in another process (``ParallelRunner``, a Dask
        worker), from this one: what its hooks there could not. Its inputs are fingerprinted
        now (nothing in a run writes a dataset another node has read), its outputs as they came
        out, its in-memory outputs by how they were made. No-op when its hooks recorded it."""
        with self._lock:
            entry = self.manifest["nodes"].get(node.name, {})
            if entry.get("status") in ("ran", "cached") and node.name not in self._pending:
                return
            self._pending.pop(node.name, None)
        for name in node.inputs:
            if is_parameter(name):
                self.parameter(name, self.catalog.load(name), node)
            else:
                self.read(name, node)
        code = self.scanner.fingerprint(node.func).as_dict()
        with self._lock:
            pending = self._pending_of(node)
            pending["code"] = code
            pending["ran"] = True
            pending["duration_s"] = None
            for name in node.outputs:
                self.written(name, node)  # the last one completes the record
            if not node.outputs:
                self._complete(node)

    def _complete(self, node: Node) -> None:
        pending = self._pending.pop(node.name)
        for name, fingerprint in pending["outputs"].items():
            if fingerprint and fingerprint.get("kind") == "memory" and not fingerprint["digest"]:
                fingerprint["digest"] = derivation_digest(pending, name)
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


def derivation_digest(pending: dict[str, Any], output: str) -> str | None:
    """The digest of an in-memory output by how it was made: the producing node's code, the
    parameters and the input fingerprints it ran on, and the output's name. Equal digests mean
    the same value for a deterministic node (what the cache assumes of every node). ``None``
    when an input has no digest (it cannot be compared, so neither can this)."""
    inputs = {}
    for name, fingerprint in (pending.get("inputs") or {}).items():
        digest = (fingerprint or {}).get("digest")
        if not digest:
            return None
        inputs[name] = digest
    code = (pending.get("code") or {}).get("digest")
    if not code:
        return None
    parameters = {
        name: value.get("digest") for name, value in (pending.get("parameters") or {}).items()
    }
    made = {"code": code, "parameters": parameters, "inputs": inputs, "output": output}
    return "made:" + value_digest(made)


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
