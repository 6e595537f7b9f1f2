"""BentoModelDataset: a model package in and out of the BentoML model store, with provenance."""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path

import bentoml
import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog, DatasetError

from fraud_detection.pipelines.inference_features.nodes import FeatureParams, build_features
from fraud_detection.request import TransactionRequest
from lab2prod.errors import IntegrityError
from lab2prod.serving import BentoModelDataset, ModelPackage, PackageError, read_package
from lab2prod.serving.provenance import fingerprint, git_state, package_versions
from tests.conftest import ROOT

METRICS = {"model": {"pr_auc": 0.41}, "threshold": 0.3}


def unique_name() -> str:
    """A model name of its own for each test: they share one BentoML home."""
    return f"model_{uuid.uuid4().hex[:10]}"


def package_data(fitted_model, scoring_input) -> dict:
    return {
        "artifacts": {"model": fitted_model},
        "inputs": {"decision_threshold": np.float64(0.3)},
        "parameters": {"inference_features": FeatureParams()},
        "metadata": {"metrics": METRICS, "feature_columns": ("a", "b")},
        "training_data": scoring_input,
    }


def catalog_for(name: str, *, save_version: str | None = None, load_versions=None) -> DataCatalog:
    entry = {
        "type": "lab2prod.serving.BentoModelDataset",
        "name": name,
        "pipeline": "inference",
        "request_model": "fraud_detection.request.TransactionRequest",
        "labels": {"project": "tests"},
    }
    return DataCatalog.from_config(
        {"packaged_model": entry}, save_version=save_version, load_versions=load_versions
    )


def test_save_then_load_round_trips_the_package(fitted_model, scoring_input):
    """What a node hands the catalog comes back as a ModelPackage the service can run."""
    name = unique_name()
    catalog = catalog_for(name, save_version="2026-11-26T10.00.00.000Z")
    catalog.save("packaged_model", package_data(fitted_model, scoring_input))

    package = catalog.load("packaged_model")

    assert isinstance(package, ModelPackage)
    assert package.tag.startswith(f"{name}:")
    assert package.pipeline == "inference"
    assert package.inputs == {"decision_threshold": 0.3}
    assert package.parameters == {"inference_features": FeatureParams().model_dump()}
    assert package.request_model == "fraud_detection.request.TransactionRequest"
    assert package.request_schema == TransactionRequest.model_json_schema()
    features = build_features(scoring_input, FeatureParams())[list(fitted_model.feature_names_in_)]
    np.testing.assert_array_equal(
        package.artifacts["model"].predict_proba(features), fitted_model.predict_proba(features)
    )
    assert package.data == {"decision_threshold": 0.3, "model": package.artifacts["model"]}
    assert package.metadata["metrics"] == METRICS
    assert package.metadata["feature_columns"] == ["a", "b"]
    assert package.metadata["provenance"]["kedro_run_id"] == "2026-11-26T10.00.00.000Z"


def test_documents_travel_as_files_beside_the_model(fitted_model, scoring_input):
    """A document (a reference profile) is a JSON file in the model, read back as it was
    saved; it stays out of BentoML's metadata, which `bentoml models get` prints whole."""
    name = unique_name()
    catalog = catalog_for(name)
    profile = {"lab2prod_profile": 1, "columns": [{"name": "amount", "edges": [1.5, 2.5]}]}
    catalog.save(
        "packaged_model", {**package_data(fitted_model, scoring_input), "documents": {"p": profile}}
    )

    package = catalog.load("packaged_model")

    assert package.documents == {"p": profile}
    stored = bentoml.models.get(package.tag)
    assert Path(stored.path_of("documents/p.json")).is_file()
    assert "lab2prod_profile" not in str(stored.info.metadata)
    assert stored.info.metadata["documents"] == ["p"]
    assert catalog_for(unique_name()).exists("packaged_model") is False


def test_provenance_is_recorded_as_labels_and_metadata(fitted_model, scoring_input):
    """Run id (and the run manifest it names), git state, data fingerprint and versions are on
    the BentoML model itself."""
    name = unique_name()
    catalog_for(name, save_version="2026-11-26T10.00.00.000Z").save(
        "packaged_model", package_data(fitted_model, scoring_input)
    )

    stored = bentoml.models.get(f"{name}:latest")
    labels, metadata = stored.info.labels, stored.info.metadata
    assert labels["pipeline"] == "inference"
    assert labels["kedro_run_id"] == "2026-11-26T10.00.00.000Z"
    assert labels["project"] == "tests"
    assert labels["git_dirty"] in ("true", "false")  # the tests run inside the repository
    assert re.fullmatch(r"[0-9a-f]{40}", labels["git_commit"])
    provenance = metadata["provenance"]
    assert provenance["run_manifest"] == "data/09_tracking/runs/2026-11-26T10.00.00.000Z.json"
    assert provenance["training_data"] == fingerprint(scoring_input)
    assert provenance["packages"]["scikit-learn"] == package_versions()["scikit-learn"]
    assert metadata["inputs"] == {"decision_threshold": 0.3}
    assert metadata["metrics"] == METRICS


def test_each_save_is_a_new_version_and_a_load_version_picks_one(fitted_model, scoring_input):
    """`latest` is the newest; Kedro's load version names an older one."""
    name = unique_name()
    for threshold in (0.1, 0.2):
        data = {**package_data(fitted_model, scoring_input), "inputs": {"t": threshold}}
        catalog_for(name).save("packaged_model", data)
    first, second = sorted(bentoml.models.list(name), key=lambda m: m.info.creation_time)

    assert catalog_for(name).load("packaged_model").tag == str(second.tag)
    pinned = catalog_for(name, load_versions={"packaged_model": first.tag.version})
    assert pinned.load("packaged_model").inputs == {"t": 0.1}


def test_the_project_catalog_declares_the_packaged_model():
    """conf/base/catalog_packaging.yml builds a BentoModelDataset for the inference pipeline."""
    config = yaml.safe_load((ROOT / "conf/base/catalog_packaging.yml").read_text())
    dataset = DataCatalog.from_config(config).get("packaged_model")
    assert isinstance(dataset, BentoModelDataset)
    assert dataset.load_tag == "fraud_detection:latest"
    assert dataset._describe()["pipeline"] == "inference"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"artefacts": {}}, r"Unknown package key 'artefacts' \(did you mean 'artifacts'\?\)"),
        ({"artifacts": {}}, r"holds no artifacts"),
        ({"metadata": {"pipeline": "x"}}, r"Metadata key\(s\) \['pipeline'\] are the package's"),
        ({"inputs": {"when": object()}}, r"'inputs' cannot be stored as BentoML metadata"),
        ({"inputs": {"t": float("nan")}}, r"'inputs' cannot be stored"),
        ({"documents": {"p": {"x": float("nan")}}}, r"'documents.p' cannot be stored"),
    ],
)
def test_a_bad_package_is_refused_and_nothing_is_stored(
    fitted_model, scoring_input, change, message
):
    """Each mistake a node can make is named; the store gains no half-made model."""
    name = unique_name()
    with pytest.raises(DatasetError, match=message) as caught:
        catalog_for(name).save(
            "packaged_model", {**package_data(fitted_model, scoring_input), **change}
        )
    causes = []
    error: BaseException | None = caught.value
    while error is not None:
        causes.append(error)
        error = error.__cause__
    assert any(isinstance(cause, PackageError) for cause in causes)
    with pytest.raises(bentoml.exceptions.NotFound):
        bentoml.models.list(name)


def test_a_model_not_packaged_by_lab2prod_is_refused(fitted_model):
    """Loading a plain bentoml.sklearn model says what it is and how to package one."""
    name = unique_name()
    bentoml.sklearn.save_model(name, fitted_model)
    with pytest.raises(PackageError, match=r"not packaged by lab2prod.*BentoModelDataset"):
        read_package(f"{name}:latest")


def test_a_tampered_model_file_is_refused_before_it_is_unpickled(fitted_model, scoring_input):
    """A model file changed in the store after packaging (here: replaced by a pickle that would
    run code) is refused with its path and both digests; nothing of it is unpickled."""
    import pickle

    name = unique_name()
    catalog = catalog_for(name)
    catalog.save("packaged_model", package_data(fitted_model, scoring_input))
    stored = bentoml.models.get(f"{name}:latest")
    path = Path(stored.path_of("artifacts/model.joblib"))
    marker = path.parent / "ran"
    path.write_bytes(pickle.dumps(_Payload(str(marker))))

    with pytest.raises(
        IntegrityError, match=r"model\.joblib is not the file that was written"
    ) as e:
        read_package(f"{name}:latest")

    assert e.value.expected.startswith("sha256:") and e.value.expected != e.value.actual
    assert "bentoml models delete" in str(e.value) and "kedro run --pipelines packaging" in str(
        e.value
    )
    assert not marker.exists()  # the payload never ran


def test_a_package_without_digests_is_refused():
    """A package from before digests were recorded cannot be checked: refused, with the fix."""
    import json

    name = unique_name()
    with bentoml.models.create(name) as model:
        Path(model.path_of("package.json")).write_text(
            json.dumps({"lab2prod_format": 1, "pipeline": "inference", "artifacts": []})
        )
    with pytest.raises(PackageError, match=r"older lab2prod.*kedro run --pipelines packaging"):
        read_package(f"{name}:latest")


class _Payload:
    """Unpickling this creates a file: proof that a pickle ran code."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path(self.path).touch, ())


def test_an_unknown_request_model_is_named():
    """A typo in request_model fails the save with the path and an example of a good one."""
    dataset = BentoModelDataset(name=unique_name(), pipeline="inference", request_model="x.Nope")
    with pytest.raises(DatasetError, match=r"Cannot import 'x.Nope'"):
        dataset.save({"artifacts": {"model": 1}})


def test_git_state_reports_commit_and_dirty_flag(tmp_path: Path):
    """A clean checkout is not dirty; an edit makes it dirty; outside git both are None."""
    assert git_state(tmp_path) == {"commit": None, "dirty": None}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "a.txt").write_text("a")
    git("add", "a.txt")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "a")
    clean = git_state(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{40}", clean["commit"]) and clean["dirty"] is False
    (tmp_path / "a.txt").write_text("b")
    assert git_state(tmp_path) == {"commit": clean["commit"], "dirty": True}


def test_fingerprint_changes_with_content_not_with_the_index(scoring_input):
    """Same rows, same fingerprint; one value, the row order or a column name changes it."""
    reference = fingerprint(scoring_input)
    assert fingerprint(scoring_input.set_index(scoring_input.index + 100)) == reference
    assert reference["rows"] == len(scoring_input)
    changed = scoring_input.assign(amount=scoring_input["amount"].where(lambda a: a > 10, 11.0))
    for other in (
        changed,
        scoring_input.iloc[::-1],
        scoring_input.rename(columns={"amount": "amount_eur"}),
    ):
        assert fingerprint(other) != reference


def test_package_versions_name_python_and_missing_packages():
    """Versions of installed packages, None for absent ones, and Python's."""
    versions = package_versions(["pandas", "no-such-package-xyz"])
    assert versions["pandas"] == pd.__version__
    assert versions["no-such-package-xyz"] is None
    assert versions["python"].startswith("3.11")
