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

Fingerprints come from files (``lineage.fingerprints``), never from loading data. The record
itself is ``record.RunRecord``; each node that finishes also becomes the cache's record of it
(``store.NodeIndex``), which is what ``kedro run --cache`` compares with.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro.framework.hooks import hook_impl

from lab2prod.lineage.fingerprints import plain
from lab2prod.lineage.record import MANIFEST_TAG, RunRecord, is_parameter

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node

    from lab2prod.lineage.code import CodeScanner

__all__ = ["DISABLE_ENV", "MANIFEST_TAG", "ManifestHooks", "is_parameter"]

DISABLE_ENV = "LAB2PROD_LINEAGE"
"""``LAB2PROD_LINEAGE=off`` turns the manifest and the cache's records off (the baseline of the
cache benchmark); ``kedro run --cache`` then refuses to run."""


class ManifestHooks:
    """Writes the run manifest of every ``kedro run`` and the cache's per-node records."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.project_path: Path | None = None
        self._package: str | None = None
        self._source_dir: Path | None = None
        self._parameters: dict[str, Any] = {}
        self._run: RunRecord | None = None

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
        self._run = RunRecord(
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
    def run(self) -> RunRecord | None:
        """The run in progress (``None`` outside ``kedro run``)."""
        return self._run

    def _here(self) -> RunRecord | None:
        """The run, in the process that started it; ``None`` elsewhere: a worker process forked
        from it (``ParallelRunner``) holds a copy whose records would overwrite each other's.
        Nodes run in other processes are recorded by the runner's process when they finish
        (:meth:`RunRecord.completed`)."""
        run = self._run
        return run if run is not None and run.pid == os.getpid() else None

    @hook_impl
    def before_dataset_loaded(self, dataset_name: str, node: Node) -> None:
        if (run := self._here()) is not None and not is_parameter(dataset_name):
            run.read(dataset_name, node)

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any, node: Node) -> None:
        if (run := self._here()) is not None and is_parameter(dataset_name):
            run.parameter(dataset_name, data, node)

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        if (run := self._here()) is not None:
            run.node_started(node)

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        if (run := self._here()) is not None:
            run.node_ran(node)

    @hook_impl
    def on_node_error(self, error: Exception, node: Node) -> None:
        if (run := self._here()) is not None:
            run.node_failed(node, error)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Node) -> None:
        if (run := self._here()) is not None:
            run.written(dataset_name, node, data)

    @hook_impl
    def after_pipeline_run(self) -> None:
        if (run := self._here()) is not None:
            run.finish("succeeded")
            self._run = None

    @hook_impl
    def on_pipeline_error(self, error: Exception) -> None:
        if (run := self._here()) is not None:
            run.finish("failed", error)
            self._run = None


def _source_dir(project_path: Path) -> Path:
    """``[tool.kedro] source_dir`` of the project's ``pyproject.toml`` (``src`` by default)."""
    import tomllib

    try:
        config = tomllib.loads((project_path / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return project_path / "src"
    return project_path / config.get("tool", {}).get("kedro", {}).get("source_dir", "src")
