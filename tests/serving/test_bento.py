"""`bentoml build` from the repository root, offline, and `bentoml serve` of the built bento."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from importlib.metadata import version

import httpx
import pytest
import yaml

from tests.conftest import ROOT
from tests.serving.conftest import OFFLINE, BuiltBento
from tests.serving.server import BENTOML, bentoml_serve, serving_env

REQUEST = json.loads((ROOT / "tests/fixtures/predict_request.json").read_text())


@pytest.fixture(scope="module")
def built(built_bento: BuiltBento) -> BuiltBento:
    """The bento built from the repository root, offline (tests/serving/conftest.py)."""
    return built_bento


@pytest.mark.slow
def test_bento_holds_the_code_the_model_reference_and_the_dockerfile(built):
    """src/ (flattened, src layout), the exact model version, requirements and Dockerfile."""
    for module in (
        "fraud_detection/service.py",
        "fraud_detection/pipelines/inference/nodes.py",
        "lab2prod/serving/compiled.py",
        "lab2prod/contracts/request.py",
    ):
        assert (built.path / "src" / module).is_file(), module
    assert not list((built.path / "src").rglob("__pycache__"))
    info = yaml.safe_load((built.path / "bento.yaml").read_text())
    assert info["service"] == "fraud_detection.service:FraudDetection"
    (service,) = info["services"]
    assert [model["tag"] for model in service["models"]] == [built.model.tag]
    requirements = (built.path / "env/python/requirements.txt").read_text().split()
    assert "scikit-learn==1.9.1" in requirements
    assert all("==" in line for line in requirements)


@pytest.mark.slow
def test_dockerfile_runs_bentoml_serve_through_the_entrypoint(built):
    """`bentoml containerize` needs Docker; the Dockerfile it would build is checked instead."""
    dockerfile = (built.path / "env/docker/Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert 'ENTRYPOINT [ "/home/bentoml/bento/env/docker/entrypoint.sh" ]' in dockerfile
    assert "EXPOSE 3000" in dockerfile
    # Each worker sizes its own thread pools to its share of the container's CPUs: a fixed
    # OMP_NUM_THREADS in the image would be wrong for some CPU limit.
    assert "OMP_NUM_THREADS" not in dockerfile
    entrypoint = (built.path / "env/docker/entrypoint.sh").read_text()
    assert 'set -- bentoml serve "$@" "$BENTO_PATH"' in entrypoint  # no arguments: serve


@pytest.mark.slow
def test_exported_bento_carries_the_model_files(built, exported_bento):
    """`bentoml export` (what containerize and a copy to another machine use) packs the model."""
    version_ = built.model.tag.split(":")[1]
    with tarfile.open(exported_bento) as bento:
        names = bento.getnames()
    for member in ("package.json", "artifacts/model.joblib", "model.yaml"):
        assert any(n.endswith(f"models/fraud_detection/{version_}/{member}") for n in names), member


@pytest.fixture(scope="module")
def bento_server(built: BuiltBento, tmp_path_factory) -> Iterator[str]:
    """`bentoml serve <tag>` of the built bento, started away from the repository."""
    workdir = tmp_path_factory.mktemp("elsewhere")
    with bentoml_serve(
        built.tag, home=built.model.home, cwd=workdir, log=workdir / "bentoml.log", env=OFFLINE
    ) as url:
        yield url


@pytest.mark.slow
def test_built_bento_serves_predictions(bento_server, built):
    """The built bento answers /predict with the model it was built with."""
    response = httpx.post(f"{bento_server}/predict", json=REQUEST, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["model"] == built.model.tag
    assert len(response.json()["predictions"]) == len(REQUEST["transactions"])


def test_bentofile_pins_the_versions_of_this_environment():
    """The bento installs exactly what the tests ran with (bentofile.yaml vs uv.lock)."""
    bentofile = yaml.safe_load((ROOT / "bentofile.yaml").read_text())
    assert bentofile["python"]["lock_packages"] is False
    for requirement in bentofile["python"]["packages"]:
        name, pinned = requirement.split("==")
        assert version(name) == pinned, requirement


@pytest.mark.slow
def test_bento_carries_the_sbom_of_its_locked_environment(built):
    """The bento holds a CycloneDX SBOM naming each package it installs at its uv.lock version,
    made from this very lock."""
    bom = json.loads((built.path / "src" / "sbom.cdx.json").read_text())
    assert (bom["bomFormat"], bom["specVersion"]) == ("CycloneDX", "1.5")
    components = {c["name"]: c["version"] for c in bom["components"]}
    requirements = (built.path / "env/python/requirements.txt").read_text().split()
    for requirement in requirements:
        name, pinned = requirement.split("==")
        assert components[name] == pinned, requirement
    properties = {p["name"]: p["value"] for p in bom["metadata"]["properties"]}
    lock = hashlib.sha256((ROOT / "uv.lock").read_bytes()).hexdigest()
    assert properties["lab2prod:uv.lock:sha256"] == lock


@pytest.mark.slow
def test_build_refuses_a_model_without_provenance(built, tmp_path):
    """A model whose package lost its provenance (packaged by hand, or by an old tool) is not
    packed: `bentoml build` fails naming the missing fields and the fix."""
    name, version = built.model.tag.split(":")
    home = tmp_path / "bentoml"
    model = home / "models" / name / version
    shutil.copytree(built.model.home / "models" / name / version, model)
    package = json.loads((model / "package.json").read_text())
    package["provenance"].pop("training_data")
    package["provenance"].pop("kedro_run_id")
    (model / "package.json").write_text(json.dumps(package))
    result = subprocess.run(
        [str(BENTOML), "build", "--output", "tag"],
        cwd=ROOT,
        env=serving_env(home, FRAUD_DETECTION_MODEL=built.model.tag, **OFFLINE),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    assert f"Model {built.model.tag} is not packed into a bento" in output, output[-3000:]
    assert "lacks kedro_run_id, training_data.sha256" in output
    assert "kedro run --pipelines packaging" in output
    assert not (home / "bentos").exists() or not list((home / "bentos").rglob("bento.yaml"))
