"""Where ``DaskRunner`` runs: ``conf/<env>/dask.yml``, the environment, runner parameters.

The scheduler's address is, first found wins:

1. the runner's ``address`` (``kedro run --runner lab2prod.runner.DaskRunner
   --runner-params address=tcp://scheduler:8786``);
2. Dask's own setting ``scheduler-address``: the ``DASK_SCHEDULER_ADDRESS`` environment variable
   or a Dask configuration file (what ``dask.distributed.Client()`` itself reads);
3. ``address:`` in the project's ``conf/<env>/dask.yml`` (``conf/base`` overridden by the run's
   environment);
4. none: a ``distributed.LocalCluster`` on this machine, sized by ``local_cluster:``, started
   for the run and stopped after it.

``dask.yml`` is read through the project's config loader (noted when the Kedro context is
created, ``project.py``), so it takes ``${globals:...}`` and ``${oc.env:...}`` like any other
configuration file.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lab2prod.errors import ClusterConfigError
from lab2prod.runner.project import current_project

CONFIG_KEY = "dask"
CONFIG_PATTERNS = ["dask*", "dask*/**"]


class LocalClusterSettings(BaseModel):
    """The ``distributed.LocalCluster`` started when no scheduler address is given."""

    model_config = ConfigDict(extra="forbid")

    n_workers: int = Field(default=2, ge=1)
    threads_per_worker: int = Field(default=1, ge=1)
    processes: bool = True
    """Worker processes (``True``) or threads of the ``kedro run`` process (``False``)."""
    memory_limit: str | int | float | None = "auto"
    """Per worker: ``auto`` (the machine's memory shared out), a size (``8GiB``), or 0/None for
    no limit. A worker past 95% of its limit is restarted by its nanny."""
    dashboard_address: str | None = None
    """e.g. ``127.0.0.1:8787`` (needs ``bokeh``); ``None``: no dashboard."""


class DaskSettings(BaseModel):
    """The contents of ``conf/<env>/dask.yml``."""

    model_config = ConfigDict(extra="forbid")

    address: str | None = None
    """The scheduler, e.g. ``tcp://dask-scheduler:8786``; ``None``: a local cluster."""
    local_cluster: LocalClusterSettings = LocalClusterSettings()
    retries: int = Field(default=0, ge=0)
    """Retries of a node that raises, for nodes without a ``dask.retries-N`` tag."""
    native_threads: int | Literal["auto"] = "auto"
    """OpenMP/BLAS threads per worker process. ``auto``: on a local cluster, the machine's cores
    shared out among the worker threads; on a remote one, 1 per worker thread (Dask's own
    default for the processes its nannies start)."""
    connect_timeout: float = Field(default=30.0, gt=0)
    """Seconds to wait for the scheduler to answer."""
    worker_hooks_disabled: list[str] = ["kedro-mlflow"]
    """Plugins (distribution names, as ``DISABLE_HOOKS_FOR_PLUGINS`` in settings) whose hooks do
    not run on workers. kedro-mlflow keeps its MLflow run in the client's hook object: on a
    worker its node hooks would open stray runs of their own."""


def load_settings(overrides: dict[str, Any] | None = None) -> DaskSettings:
    """The settings of this run: ``dask.yml`` of the current project, the environment, then
    ``overrides`` (the runner's parameters), in rising order of precedence.

    Raises:
        ClusterConfigError: ``dask.yml`` or an override has an unknown key or a bad value.
    """
    import dask

    raw: dict[str, Any] = dict(_project_config())
    source = "conf/<env>/dask.yml"
    address = dask.config.get("scheduler-address", None)
    if address:
        raw["address"] = address
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key in LocalClusterSettings.model_fields:
            raw.setdefault("local_cluster", {})
            raw["local_cluster"] = {**raw["local_cluster"], key: value}
        else:
            raw[key] = value
        source = "the runner's parameters or conf/<env>/dask.yml"
    try:
        return DaskSettings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        local = (f"local_cluster.{name}" for name in LocalClusterSettings.model_fields)
        known = ", ".join([*DaskSettings.model_fields, *local])
        raise ClusterConfigError(
            f"Dask setting '{key}' in {source}: {first['msg']}. Known settings: {known}.",
            key=key,
        ) from exc


def _project_config() -> dict[str, Any]:
    from kedro.config import MissingConfigException

    project = current_project()
    loader = project.config_loader if project is not None else None
    if loader is None or not hasattr(loader, "config_patterns"):
        return {}
    loader.config_patterns.setdefault(CONFIG_KEY, CONFIG_PATTERNS)
    try:
        config = loader[CONFIG_KEY]
    except MissingConfigException:
        return {}
    return dict(config or {})
