"""MLflow tracking alongside kedro-mlflow: what it does not log itself, and model links.

kedro-mlflow (the optional ``tracking`` extra) opens an MLflow run for every ``kedro run`` and
logs the parameters the nodes read. :class:`TrackingHooks` adds to that run:

- typed parameters one key each (``training.model.max_iter``): kedro-mlflow flattens dicts,
  but Kedro hands nodes pydantic models, which it logs as one string per group;
- the numbers of datasets whose catalog entry says ``metrics``, as run metrics, and the files
  of those that say ``artifact``, as artifacts, once saved (``metadata: {lab2prod: {mlflow:
  [metrics, artifact]}}``: Kedro ignores the key, so the catalog works without the extra);
- the HTML report of every notebook node (its ``html_copy``).

:func:`active_run` is how ``BentoModelDataset`` links a model to the run and back.

lab2prod never imports mlflow: everything here acts only when mlflow is already imported (by
kedro-mlflow, when ``kedro`` starts) and a run is active. Without the extra nothing changes.
"""

from __future__ import annotations

import logging
import numbers
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from kedro.framework.hooks import hook_impl

from lab2prod.errors import TrackingError, did_you_mean

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext
    from kedro.io import AbstractDataset, CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node

logger = logging.getLogger(__name__)

MODEL_TAG = "bentoml.model_tag"
"""Tag of the MLflow run naming the BentoML model (``name:version``) the run packaged."""
RUN_ID_LABEL = "mlflow_run_id"
"""BentoML label of a packaged model naming the MLflow run that trained it."""
PROJECT_PATH_RESOLVER = "lab2prod.project_path"
"""``${lab2prod.project_path:}`` in ``mlflow.yml``: the Kedro project's root, as a POSIX path."""
ROLES = ("metrics", "artifact")
"""What ``metadata: {lab2prod: {mlflow: [...]}}`` on a catalog entry may ask for."""

_pipeline_run: MlflowRun | None = None
"""The run kedro-mlflow opened for the ``kedro run`` in progress, noted by :class:`TrackingHooks`.
MLflow's active run is per thread, and ``kedro run --async`` saves outputs from other threads."""


@dataclass(frozen=True)
class MlflowRun:
    """The MLflow run a model was trained in.

    Attributes:
        run_id: The run's id.
        experiment_id: Its experiment's id.
        tracking_uri: Where the run is stored, credentials left out.
    """

    run_id: str
    experiment_id: str
    tracking_uri: str

    def as_dict(self) -> dict[str, str]:
        """The run as plain JSON, for a model's provenance."""
        return asdict(self)


def active_run() -> MlflowRun | None:
    """The MLflow run active in this thread, else that of the ``kedro run`` in progress, else
    ``None``; never imports mlflow.

    Returns ``None`` without looking further when mlflow was not imported: no run can be
    active then, and the import alone costs a second.
    """
    mlflow = sys.modules.get("mlflow")
    if mlflow is None:
        return None
    run = mlflow.active_run()
    if run is None:
        return _pipeline_run
    return MlflowRun(
        run_id=run.info.run_id,
        experiment_id=run.info.experiment_id,
        tracking_uri=_without_credentials(mlflow.get_tracking_uri()),
    )


def set_run_tags(run: MlflowRun, tags: Mapping[str, str]) -> None:
    """Tag ``run`` (by id, so from any thread)."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=mlflow.get_tracking_uri())
    for key, value in tags.items():
        client.set_tag(run.run_id, key, value)


class TrackingHooks:
    """Log typed parameters, metrics and reports to the MLflow run kedro-mlflow opens.

    Register in the project's ``settings.py`` (``HOOKS = (TrackingHooks(),)``). Each hook
    returns at once when kedro-mlflow is not installed or tracks nothing for the run.
    """

    def __init__(self) -> None:
        self._run: _RunLog | None = None

    # tryfirst: kedro-mlflow reads mlflow.yml in its own after_context_created.
    @hook_impl(tryfirst=True)
    def after_context_created(self, context: KedroContext) -> None:
        """Offer ``${lab2prod.project_path:}`` to ``mlflow.yml``.

        kedro-mlflow makes a relative *path* project-relative, but passes a URI such as
        ``sqlite:///mlflow.db`` on as it is, and SQLite then opens it in the working directory.
        """
        if "kedro_mlflow" not in sys.modules:
            return
        from omegaconf import OmegaConf

        project_path = Path(context.project_path).resolve().as_posix()
        OmegaConf.register_new_resolver(PROJECT_PATH_RESOLVER, lambda: project_path, replace=True)

    # trylast: kedro-mlflow starts the run in its own before_pipeline_run.
    @hook_impl(trylast=True)
    def before_pipeline_run(self, pipeline: Pipeline, catalog: CatalogProtocol) -> None:
        """Note the run kedro-mlflow started (if any) and what the catalog asks to log.

        Raises:
            TrackingError: A catalog entry asks ``metadata.lab2prod.mlflow`` for something
                other than ``metrics`` or ``artifact``.
        """
        self._forget_run()
        run = active_run()
        if run is None:
            return
        try:
            roles = _catalog_roles(pipeline, catalog)
        except TrackingError:
            sys.modules["mlflow"].end_run(status="FAILED")  # kedro-mlflow would leave it open
            raise
        global _pipeline_run
        self._run = _RunLog(run, catalog, roles)
        _pipeline_run = run

    @hook_impl
    def before_node_run(self, inputs: dict[str, Any]) -> None:
        if self._run is not None:
            self._run.log_typed_parameters(inputs)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any) -> None:
        if self._run is not None:
            self._run.log_dataset(dataset_name, data)

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        if self._run is not None:
            self._run.log_notebook_report(node)

    @hook_impl(tryfirst=True)  # kedro-mlflow ends the run in its own
    def after_pipeline_run(self) -> None:
        self._forget_run()

    @hook_impl(tryfirst=True)
    def on_pipeline_error(self) -> None:
        self._forget_run()

    def _forget_run(self) -> None:
        global _pipeline_run
        self._run = None
        _pipeline_run = None


class _RunLog:
    """Writes to one MLflow run by id: safe from the threads of ``ThreadRunner`` and
    ``--async`` saves, where kedro-mlflow's run is not the thread's active run."""

    def __init__(
        self, run: MlflowRun, catalog: CatalogProtocol, roles: dict[str, frozenset[str]]
    ) -> None:
        import mlflow

        self.run = run
        self.catalog = catalog
        self.roles = roles
        self.client = mlflow.MlflowClient(tracking_uri=mlflow.get_tracking_uri())

    def log_typed_parameters(self, inputs: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        params: dict[str, Any] = {}
        for name, value in inputs.items():
            if name.startswith("params:") and (plain := _typed_parameter(value)) is not None:
                params.update(_flatten(plain, name.removeprefix("params:")))
        if params:
            self.client.log_batch(
                self.run.run_id, params=[Param(key, str(value)) for key, value in params.items()]
            )

    def log_dataset(self, name: str, data: Any) -> None:
        roles = self.roles.get(name, frozenset())
        if "metrics" in roles:
            self._log_metrics(name, data)
        if "artifact" in roles:
            self._log_file(name, _local_file(self.catalog[name]))

    def log_notebook_report(self, node: Node) -> None:
        from lab2prod.execute.node import NotebookRun

        if isinstance(node.func, NotebookRun) and node.func.html_copy is not None:
            self._log_file(node.name, node.func.html_copy)

    def _log_metrics(self, name: str, data: Any) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        numbers_ = dict(_numbers(data, ""))
        if not numbers_:
            logger.warning("Dataset '%s' holds no numbers to log as MLflow metrics", name)
            return
        self.client.log_batch(
            self.run.run_id,
            metrics=[Metric(key or name, float(value), now, 0) for key, value in numbers_.items()],
        )

    def _log_file(self, name: str, path: Path | None) -> None:
        if path is None or not path.is_file():
            logger.warning(
                "'%s' wrote no local file (%s): nothing logged to MLflow for it", name, path
            )
            return
        self.client.log_artifact(self.run.run_id, str(path))


def _catalog_roles(pipeline: Pipeline, catalog: CatalogProtocol) -> dict[str, frozenset[str]]:
    """``{dataset name: roles}`` of the pipeline's datasets whose entry asks for any."""
    roles = {}
    for name in sorted(pipeline.datasets()):
        dataset = catalog.get(name)
        asked = _asked_roles(dataset) if dataset is not None else ()
        for role in asked:
            if role not in ROLES:
                hint = did_you_mean(str(role), ROLES, n=1)
                hint = f" ({hint})" if hint else ""
                raise TrackingError(
                    f"Catalog entry '{name}' asks metadata.lab2prod.mlflow for {role!r}{hint}; "
                    f"it may ask for {' and/or '.join(map(repr, ROLES))}",
                    dataset=name,
                )
        if asked:
            roles[name] = frozenset(asked)
    return roles


def _asked_roles(dataset: AbstractDataset) -> tuple[Any, ...]:
    metadata = getattr(dataset, "metadata", None) or {}
    asked = (metadata.get("lab2prod") or {}).get("mlflow") if isinstance(metadata, dict) else None
    if asked is None:
        return ()
    return (asked,) if isinstance(asked, str) else tuple(asked)


def _typed_parameter(value: Any) -> dict[str, Any] | None:
    """A pydantic or dataclass parameter group as a dict; ``None`` for anything else (plain
    values and dicts are kedro-mlflow's to log)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return None


def _flatten(value: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    """The leaves of ``value`` (nested dicts), keyed by their dotted path under ``prefix``."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def _numbers(value: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    """The numbers among the leaves of ``value``; booleans left out."""
    for key, leaf in _flatten(value, prefix):
        if isinstance(leaf, numbers.Real) and not isinstance(leaf, bool):
            yield key, leaf


def _local_file(dataset: AbstractDataset) -> Path | None:
    """The local file a dataset saved, or ``None`` (not a file dataset, or a remote one)."""
    from kedro.io import AbstractVersionedDataset

    # No public API gives a dataset's file; kedro-datasets keep it in ``_filepath`` (and the
    # version folder for versioned datasets), where kedro-mlflow's MlflowArtifactDataset reads it.
    filepath = getattr(dataset, "_filepath", None)
    if filepath is None or getattr(dataset, "_protocol", "file") not in ("file", ""):
        return None
    if isinstance(dataset, AbstractVersionedDataset) and dataset._version is not None:
        filepath = dataset._get_versioned_path(dataset.resolve_save_version())
    return Path(str(filepath))


def _without_credentials(uri: str) -> str:
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
