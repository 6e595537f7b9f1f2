"""Where run manifests and the cache's records live, and reading them back.

``data/09_tracking/`` in the project (Kedro's layer convention; gitignored with the rest of
``data/``):

- ``runs/<run id>.json``: one manifest per ``kedro run``; the run id is the Kedro session id,
  which is also the save version of every versioned dataset the run wrote;
- ``cache/nodes.json``: for each node, the record of its last successful execution (what
  ``kedro run --cache`` compares with);
- ``cache/files.json``: the SHA-256 memo of local files (``fingerprints.FileMemo``).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from lab2prod.errors import LineageError
from lab2prod.io import write_text_atomic

TRACKING_DIR = Path("data") / "09_tracking"
"""Relative to the project root."""
MANIFEST_VERSION = 1


def runs_dir(project_path: Path) -> Path:
    """The folder of the run manifests."""
    return project_path / TRACKING_DIR / "runs"


def cache_dir(project_path: Path) -> Path:
    """The folder of the cache's records."""
    return project_path / TRACKING_DIR / "cache"


def manifest_path(project_path: Path, run_id: str) -> Path:
    """Where the manifest of ``run_id`` is written."""
    return runs_dir(project_path) / f"{run_id}.json"


def write_json(path: Path, value: Any) -> None:
    """Write ``value`` as indented JSON, atomically."""
    write_text_atomic(path, json.dumps(value, indent=2, sort_keys=False, default=str) + "\n")


def read_manifest(project_path: Path, run_id: str) -> dict[str, Any]:
    """The manifest of ``run_id`` (``latest`` for the newest).

    Raises:
        LineageError: There is no such manifest, or it is not valid JSON.
    """
    if run_id == "latest":
        found = sorted(runs_dir(project_path).glob("*.json"))
        if not found:
            raise LineageError(
                f"No run manifest in {TRACKING_DIR / 'runs'}: run `kedro run` first (with "
                "lab2prod's ManifestHooks in settings.py HOOKS).",
                run_id=run_id,
            )
        path = found[-1]
    else:
        path = manifest_path(project_path, run_id)
    if not path.is_file():
        known = sorted(p.stem for p in runs_dir(project_path).glob("*.json"))[-3:]
        hint = f"; the latest are {', '.join(known)}" if known else ""
        raise LineageError(
            f"No manifest of run {run_id!r} in {TRACKING_DIR / 'runs'}{hint}. Was it run in "
            "this project?",
            run_id=run_id,
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise LineageError(f"{path} is not valid JSON ({exc})", run_id=run_id) from exc


class NodeIndex:
    """The last successful execution of each node: ``cache/nodes.json``.

    Loaded once per run, updated node by node (from the runner's threads too), written
    atomically after each update, so a run that fails keeps the records of the nodes that
    finished.
    """

    def __init__(self, project_path: Path) -> None:
        self.path = cache_dir(project_path) / "nodes.json"
        self._lock = threading.Lock()
        self._records: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            try:
                self._records = json.loads(self.path.read_text(encoding="utf-8"))
            except ValueError:
                self._records = {}  # a damaged index only costs re-running

    def get(self, node: str) -> dict[str, Any] | None:
        """The record of ``node``'s last successful execution, or ``None``."""
        with self._lock:
            return self._records.get(node)

    def put(self, node: str, record: dict[str, Any]) -> None:
        """Keep ``record`` as ``node``'s last successful execution and write the index."""
        with self._lock:
            self._records[node] = record
            text = json.dumps(self._records, sort_keys=True, default=str)
            write_text_atomic(self.path, text)
