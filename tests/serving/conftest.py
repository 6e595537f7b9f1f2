"""Fixtures of the service tests: a model packaged by the small project run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import KEDRO, ROOT
from tests.serving.server import BENTOML, isolate_bentoml_home, serving_env

OFFLINE = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "UV_OFFLINE": "1",
    "PIP_NO_INDEX": "1",
}
"""Environment in which any attempt to reach a package index fails fast."""


def pytest_configure(config: pytest.Config) -> None:
    isolate_bentoml_home()


@dataclass(frozen=True)
class PackagedModel:
    """A BentoML home holding one model, packaged by ``kedro run --pipelines packaging``."""

    home: Path
    tag: str
    threshold: float
    project: Path


@pytest.fixture(scope="session")
def packaged_model(small_run: Path, tmp_path_factory: pytest.TempPathFactory) -> PackagedModel:
    """The small run's model, packaged into a BentoML home of its own."""
    home = tmp_path_factory.mktemp("bentoml_home")
    result = subprocess.run(
        [str(KEDRO), "run", "--pipelines", "packaging"],
        cwd=small_run,
        env=serving_env(home, COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (model_yaml,) = (home / "models" / "fraud_detection").glob("*/model.yaml")
    threshold = json.loads((small_run / "data/08_reporting/metrics.json").read_text())["threshold"]
    return PackagedModel(
        home=home,
        tag=f"fraud_detection:{model_yaml.parent.name}",
        threshold=threshold,
        project=small_run,
    )


@dataclass(frozen=True)
class BuiltBento:
    """A bento built from the repository root into the packaged model's BentoML home."""

    tag: str
    path: Path
    model: PackagedModel


@pytest.fixture(scope="session")
def built_bento(packaged_model: PackagedModel) -> BuiltBento:
    """`make bento`'s two steps from the repository root, as the docs say, with no network: the
    SBOM from uv.lock, then `bentoml build`."""
    sbom = subprocess.run(
        [sys.executable, "-m", "lab2prod.serving.supply", "sbom"],
        cwd=ROOT,
        env=serving_env(packaged_model.home, **OFFLINE),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert sbom.returncode == 0, sbom.stdout[-2000:] + sbom.stderr[-2000:]
    result = subprocess.run(
        [str(BENTOML), "build", "--output", "tag"],
        cwd=ROOT,
        env=serving_env(packaged_model.home, **OFFLINE),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    tag = re.search(r"__tag__:(\S+)", result.stdout).group(1)
    name, version = tag.split(":")
    return BuiltBento(tag, packaged_model.home / "bentos" / name / version, packaged_model)


@pytest.fixture(scope="session")
def exported_bento(built_bento: BuiltBento, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`bentoml export` of the built bento: the archive containerize and a copy elsewhere use."""
    archive = tmp_path_factory.mktemp("export") / "fraud_detection.bento"
    result = subprocess.run(
        [str(BENTOML), "export", built_bento.tag, str(archive)],
        env=serving_env(built_bento.model.home, **OFFLINE),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return archive
