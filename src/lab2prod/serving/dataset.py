"""``BentoModelDataset``: a Kedro dataset over the BentoML model store.

A training run ends by saving a model package through the catalog, like any other output::

    # conf/base/catalog_packaging.yml
    packaged_model:
      type: lab2prod.serving.BentoModelDataset
      name: fraud_detection                      # the BentoML model name
      pipeline: inference                        # the registered inference pipeline
      request_model: fraud_detection.request.TransactionRequest
      labels: {project: fraud-detection}

The node that feeds it stays free of Kedro and BentoML: it returns a plain dict (see
:meth:`BentoModelDataset.save`). The dataset adds the provenance (git commit and dirty flag,
Kedro run id, training data fingerprint, package versions) and writes one new BentoML model
version per save. BentoML is imported only when a model is saved or loaded, so declaring the
dataset costs ``kedro`` nothing at start-up.

When an MLflow run is active (kedro-mlflow opens one per ``kedro run`` with the ``tracking``
extra), the model also names it (metadata ``provenance.mlflow``, label ``mlflow_run_id``) and
the run names the model (tag ``bentoml.model_tag``). mlflow is never imported to find out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, Version

from lab2prod import tracking
from lab2prod.errors import PackageError, did_you_mean
from lab2prod.serving import provenance
from lab2prod.serving.package import RESERVED_METADATA, ModelPackage, read_package, write_package

_PACKAGE_KEYS = ("artifacts", "inputs", "parameters", "metadata", "documents", "training_data")


class BentoModelDataset(AbstractDataset[Mapping[str, Any], ModelPackage]):
    """Saves a model package to the BentoML model store; loads one back as a ``ModelPackage``.

    The store is BentoML's (``$BENTOML_HOME/models``, ``~/bentoml`` by default). Kedro passes
    the run's save version (its session id) to versioned datasets: the package records it as
    the Kedro run id. ``kedro run --load-versions packaged_model:<version>`` loads that BentoML
    version instead of the latest.
    """

    # Kedro hands versioned datasets Version(load, save); save is the run's session id.
    versioned = True

    def __init__(
        self,
        *,
        name: str,
        pipeline: str,
        request_model: str | None = None,
        labels: Mapping[str, str] | None = None,
        packages: Sequence[str] | None = None,
        project_dir: str | None = None,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Describe where and what to package.

        Args:
            name: The BentoML model name (a new version is added on each save).
            pipeline: The registered name of the inference pipeline the service runs.
            request_model: Import path (``package.module.Name``) of the pydantic model of one
                request record; its JSON schema is stored so that a service can check that it
                serves the request the model was trained for.
            labels: Extra BentoML labels (string values).
            packages: Distributions whose versions are recorded (default:
                ``provenance.DEFAULT_PACKAGES``).
            project_dir: Where to read the git state (default: the working directory, which
                ``kedro run`` sets to the project).
            version: Set by Kedro.
            metadata: Kedro's free-form dataset metadata (kedro-viz); not stored.
        """
        self._name = name
        self._pipeline = pipeline
        self._request_model = request_model
        self._labels = dict(labels or {})
        self._packages = tuple(packages) if packages is not None else provenance.DEFAULT_PACKAGES
        self._project_dir = Path(project_dir) if project_dir else None
        self._version = version
        self.metadata = metadata

    @property
    def load_tag(self) -> str:
        """The tag :meth:`load` reads: ``name:latest`` unless Kedro was given a load version."""
        load_version = self._version.load if self._version else None
        return f"{self._name}:{load_version or 'latest'}"

    def load(self) -> ModelPackage:
        """Read the package of :attr:`load_tag` back, fitted artifacts included."""
        return read_package(self.load_tag)

    def save(self, data: Mapping[str, Any]) -> None:
        """Store a new version of the model.

        Args:
            data: A dict with these keys, all but ``artifacts`` optional:

                - ``artifacts``: fitted objects by the dataset name the inference pipeline
                  reads them as (``{"model": model}``), stored with joblib;
                - ``inputs``: plain JSON values it reads (``{"decision_threshold": 0.3}``);
                - ``parameters``: its raw parameters, ``{"group": {...}}`` for
                  ``params:group`` (pydantic parameters are dumped);
                - ``metadata``: anything JSON to keep beside the model (metrics, training
                  parameters);
                - ``documents``: larger JSON documents by name, kept as files in the model
                  (``documents/<name>.json``: the reference profile of the monitoring);
                - ``training_data``: a DataFrame to fingerprint (not stored).

        Raises:
            PackageError: If a key is unknown, ``artifacts`` is empty, or a value cannot be
                stored.
        """
        # The MLflow run kedro-mlflow opened for this `kedro run`, if any: the model names the
        # run (metadata, label) and the run names the model (tag).
        run = tracking.active_run()
        package = self._package(data, run)
        labels = {**self._labels, **({tracking.RUN_ID_LABEL: run.run_id} if run else {})}
        tag = write_package(package, name=self._name, labels=labels)
        if run is not None:
            tracking.set_run_tags(run, {tracking.MODEL_TAG: tag})
        self._logger.info("Saved model %s to the BentoML model store", tag)

    def _package(
        self, data: Mapping[str, Any], run: tracking.MlflowRun | None = None
    ) -> ModelPackage:
        if not isinstance(data, Mapping):
            raise PackageError(
                f"BentoModelDataset saves a dict with keys {list(_PACKAGE_KEYS)}, got "
                f"{type(data).__name__}"
            )
        for key in data:
            if key not in _PACKAGE_KEYS:
                hint = did_you_mean(key, _PACKAGE_KEYS, n=1)
                hint = f" ({hint})" if hint else ""
                raise PackageError(
                    f"Unknown package key {key!r}{hint}; the keys are {list(_PACKAGE_KEYS)}",
                    key=key,
                )
        if not data.get("artifacts"):
            raise PackageError(
                "The package holds no artifacts: give the fitted model as "
                "{'artifacts': {'<dataset name the inference pipeline reads>': model}}",
                key="artifacts",
            )
        metadata = dict(data.get("metadata") or {})
        taken = sorted(RESERVED_METADATA & metadata.keys())
        if taken:
            raise PackageError(
                f"Metadata key(s) {taken} are the package's own; rename them",
                key="metadata",
            )
        metadata["provenance"] = self._provenance(data.get("training_data"), run)
        return ModelPackage(
            pipeline=self._pipeline,
            artifacts=dict(data["artifacts"]),
            inputs=dict(data.get("inputs") or {}),
            parameters=dict(data.get("parameters") or {}),
            request_model=self._request_model,
            request_schema=self._request_schema(),
            metadata=metadata,
            documents=dict(data.get("documents") or {}),
        )

    def _provenance(
        self, training_data: Any, run: tracking.MlflowRun | None = None
    ) -> dict[str, Any]:
        return {
            "git": provenance.git_state(self._project_dir or Path.cwd()),
            "kedro_run_id": self._version.save if self._version else None,
            # The run's manifest (lab2prod.lineage), named by the same id: `kedro lineage`.
            "run_manifest": (
                f"data/09_tracking/runs/{self._version.save}.json" if self._version else None
            ),
            "training_data": (
                provenance.fingerprint(training_data) if training_data is not None else None
            ),
            "packages": provenance.package_versions(self._packages),
            # Only with an MLflow run: without tracking, the package is what it always was.
            **({"mlflow": run.as_dict()} if run is not None else {}),
        }

    def _request_schema(self) -> dict[str, Any] | None:
        if self._request_model is None:
            return None
        return import_object(self._request_model).model_json_schema()

    def _describe(self) -> dict[str, Any]:
        return {
            "name": self._name,
            "pipeline": self._pipeline,
            "request_model": self._request_model,
            "version": self._version,
        }

    def _exists(self) -> bool:
        import bentoml
        from bentoml.exceptions import NotFound

        try:
            bentoml.models.get(self.load_tag)
        except NotFound:
            return False
        return True


def import_object(path: str) -> Any:
    """The object named by ``package.module.Name`` (or ``package.module:Name``).

    Raises:
        PackageError: If the module or the name does not exist.
    """
    module_name, _, attribute = path.replace(":", ".").rpartition(".")
    try:
        return getattr(import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise PackageError(
            f"Cannot import {path!r} ({exc}); give the full import path, e.g. "
            "'my_project.request.TransactionRequest'",
            key="request_model",
        ) from exc
