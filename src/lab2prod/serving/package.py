"""A model package in the BentoML model store: everything a service needs besides its code.

One BentoML model holds the fitted objects (``artifacts/<name>.joblib``, the format
``bentoml.sklearn`` uses), JSON documents that travel with the model but are not the service's
to run (``documents/<name>.json``: the reference profile the monitoring compares with) and
``package.json``: what the service needs to run the inference
pipeline (its registered name, the plain values and parameters it reads, the request schema)
and what a person needs to trust it (metrics, git commit, Kedro run id, training data
fingerprint, package versions). The same content is the model's BentoML metadata, for
``bentoml models get``; BentoML metadata cannot hold ``null``, so there null values are left
out and ``package.json`` stays the exact copy. Short strings (pipeline, git commit and dirty
flag, Kedro run id) are BentoML labels too.

Each artifact's SHA-256 is recorded in ``package.json`` (``artifact_sha256``) when it is
written, and checked before it is unpickled (``lab2prod.checksums``): a model file altered or
replaced in the store is refused, not loaded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab2prod.checksums import digest, verified
from lab2prod.errors import PackageError

if TYPE_CHECKING:
    from bentoml import Model

FORMAT_VERSION = 2
"""2: artifacts carry their SHA-256 (``artifact_sha256``); a format 1 package is refused."""
_ARTIFACTS_DIR = "artifacts"
_DOCUMENTS_DIR = "documents"
_PACKAGE_FILE = "package.json"
# Metadata keys the package itself uses; a node's own metadata may not take them.
RESERVED_METADATA: frozenset[str] = frozenset(
    {
        "lab2prod_format",
        "pipeline",
        "artifacts",
        "documents",
        "artifact_sha256",
        "inputs",
        "pipeline_parameters",
        "request_model",
        "request_schema",
        "provenance",
    }
)


# The keys that describe the package itself, not the model: read into ModelPackage's fields.
_STRUCTURE = RESERVED_METADATA - {"provenance"}


@dataclass(frozen=True)
class ModelPackage:
    """The inference pipeline's fixed inputs and the model's provenance.

    Attributes:
        pipeline: The registered name of the inference pipeline to run.
        artifacts: Fitted objects (a model, an encoder, ...) by the dataset name the pipeline
            reads them as.
        inputs: Plain JSON values the pipeline reads (a decision threshold), by dataset name.
        parameters: The raw parameters of the pipeline's ``params:`` inputs
            (``{"group": {...}}``), as the run used them.
        request_model: Import path of the pydantic model of one request record, if any.
        request_schema: Its JSON schema when the model was packaged.
        metadata: Metrics, training parameters, provenance: anything JSON.
        documents: JSON documents kept as files beside the model, by name (too large for
            metadata: a reference profile).
        tag: The BentoML tag, once stored.
    """

    pipeline: str
    artifacts: Mapping[str, Any]
    inputs: Mapping[str, Any] = field(default_factory=dict)
    parameters: Mapping[str, Any] = field(default_factory=dict)
    request_model: str | None = None
    request_schema: Mapping[str, Any] | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    documents: Mapping[str, Any] = field(default_factory=dict)
    tag: str | None = None

    @property
    def data(self) -> dict[str, Any]:
        """The values bound into the compiled pipeline: artifacts and plain inputs."""
        return {**self.inputs, **self.artifacts}


def write_package(
    package: ModelPackage, *, name: str, labels: Mapping[str, str] | None = None
) -> str:
    """Save ``package`` as a new version of the BentoML model ``name``.

    BentoML writes the model to a temporary folder and moves it into the store (``BENTOML_HOME``)
    only once complete, so a failure leaves no half-written model.

    Args:
        package: What to store.
        name: The BentoML model name.
        labels: BentoML labels (strings) added to those the package derives.

    Returns:
        The new model's tag, ``name:version``.

    Raises:
        PackageError: If a value cannot be stored as JSON metadata.
    """
    import io

    import bentoml
    import joblib

    files: dict[str, bytes] = {}
    for artifact, value in package.artifacts.items():
        buffer = io.BytesIO()
        joblib.dump(value, buffer)
        files[artifact] = buffer.getvalue()
    content = {
        "lab2prod_format": FORMAT_VERSION,
        "pipeline": package.pipeline,
        "artifacts": sorted(package.artifacts),
        "documents": sorted(package.documents),
        "artifact_sha256": {artifact: digest(data) for artifact, data in sorted(files.items())},
        "inputs": _plain(dict(package.inputs), "inputs"),
        "pipeline_parameters": _plain(dict(package.parameters), "parameters"),
        "request_model": package.request_model,
        "request_schema": _plain(package.request_schema, "request_schema"),
        **_plain(dict(package.metadata), "metadata"),
    }
    documents = {
        name: _plain(value, f"documents.{name}") for name, value in package.documents.items()
    }
    with bentoml.models.create(
        name,
        labels={**_labels(package), **(labels or {})},
        metadata=_without_nulls(content),
    ) as model:
        Path(model.path_of(_PACKAGE_FILE)).write_text(json.dumps(content, indent=1))
        artifacts = Path(model.path_of(_ARTIFACTS_DIR))
        artifacts.mkdir()
        for artifact, data in files.items():
            (artifacts / f"{artifact}.joblib").write_bytes(data)
        if documents:
            folder = Path(model.path_of(_DOCUMENTS_DIR))
            folder.mkdir()
            for name, value in documents.items():
                (folder / f"{name}.json").write_text(json.dumps(value))
    return str(model.tag)


def read_package(model: str | Model) -> ModelPackage:
    """Load the package stored as BentoML model ``model`` (a tag, ``name:latest`` included).

    Raises:
        PackageError: If the model was not written by :func:`write_package` (or by a version
            that recorded no artifact digests).
        IntegrityError: If an artifact file is not the one written when the model was
            packaged (checked before it is unpickled).
        bentoml.exceptions.NotFound: If there is no such model in the store.
    """
    import io

    import bentoml
    import joblib

    stored = bentoml.models.get(model) if isinstance(model, str) else model
    package_file = Path(stored.path_of(_PACKAGE_FILE))
    if not package_file.is_file():
        raise PackageError(
            f"BentoML model {stored.tag} was not packaged by lab2prod (it has no "
            f"{_PACKAGE_FILE}); save it with lab2prod.serving.BentoModelDataset"
        )
    metadata = json.loads(package_file.read_text())
    if metadata["lab2prod_format"] > FORMAT_VERSION:
        raise PackageError(
            f"BentoML model {stored.tag} uses package format {metadata['lab2prod_format']}, "
            f"newer than this lab2prod reads ({FORMAT_VERSION}); upgrade lab2prod"
        )
    if metadata["lab2prod_format"] < FORMAT_VERSION:
        raise PackageError(
            f"BentoML model {stored.tag} was packaged by an older lab2prod (format "
            f"{metadata['lab2prod_format']}), which recorded no SHA-256 of its files: they "
            "cannot be checked before loading. Package it again: kedro run --pipelines packaging"
        )
    digests = metadata["artifact_sha256"]
    fix = (
        f"Delete the model (bentoml models delete {stored.tag}) and package it again: "
        "kedro run --pipelines packaging"
    )
    artifacts = {
        name: joblib.load(
            io.BytesIO(
                verified(
                    stored.path_of(f"{_ARTIFACTS_DIR}/{name}.joblib"), digests.get(name), fix=fix
                )
            )
        )
        for name in metadata["artifacts"]
    }
    documents = {
        name: json.loads(Path(stored.path_of(f"{_DOCUMENTS_DIR}/{name}.json")).read_text())
        for name in metadata.get("documents", [])
    }
    return ModelPackage(
        pipeline=metadata["pipeline"],
        artifacts=artifacts,
        inputs=metadata["inputs"],
        parameters=metadata["pipeline_parameters"],
        request_model=metadata["request_model"],
        request_schema=metadata["request_schema"],
        metadata={k: v for k, v in metadata.items() if k not in _STRUCTURE},
        documents=documents,
        tag=str(stored.tag),
    )


def _labels(package: ModelPackage) -> dict[str, str]:
    provenance = package.metadata.get("provenance", {})
    git = provenance.get("git", {})
    labels = {
        "pipeline": package.pipeline,
        "git_commit": git.get("commit") or "unknown",
        "git_dirty": "unknown" if git.get("dirty") is None else str(git["dirty"]).lower(),
        "kedro_run_id": provenance.get("kedro_run_id") or "unknown",
    }
    return labels


def _plain(value: Any, key: str) -> Any:
    """``value`` as plain JSON types (tuples become lists, numpy scalars numbers)."""
    if value is None:
        return None
    try:
        return json.loads(json.dumps(value, default=_json_default, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise PackageError(
            f"The package's {key!r} cannot be stored as BentoML metadata ({exc}); keep it to "
            "JSON values (numbers, strings, lists, dicts) and put fitted objects in 'artifacts'",
            key=key,
        ) from exc


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value if v is not None]
    return value


def _json_default(value: Any) -> Any:
    for attribute in ("item", "tolist"):  # numpy scalars and arrays
        if hasattr(value, attribute):
            return getattr(value, attribute)()
    if hasattr(value, "model_dump"):  # pydantic parameters
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not JSON")
