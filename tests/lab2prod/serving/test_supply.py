"""Supply chain: which provenance records a bento build refuses, and the SBOM from uv.lock."""

from __future__ import annotations

import tomllib

import pytest
import yaml

from lab2prod.errors import PackageError
from lab2prod.serving.provenance import REQUIRED_PROVENANCE, missing_provenance
from lab2prod.serving.supply import bento_sbom
from tests.conftest import ROOT

COMPLETE = {
    "git": {"commit": "0123abc", "dirty": False},
    "kedro_run_id": "2026-12-02T10.00.00.000Z",
    "training_data": {"sha256": "ab" * 32, "rows": 10, "columns": 3},
    "packages": {"python": "3.11.7", "lab2prod": "0.1.0"},
}


@pytest.mark.parametrize(
    ("record", "missing"),
    [
        (COMPLETE, []),
        ({**COMPLETE, "git": {"commit": None, "dirty": None}}, []),  # outside git: said so
        (None, list(REQUIRED_PROVENANCE)),
        ({}, list(REQUIRED_PROVENANCE)),
        ({k: v for k, v in COMPLETE.items() if k != "git"}, ["git"]),
        ({**COMPLETE, "git": {}}, ["git"]),
        ({**COMPLETE, "kedro_run_id": None}, ["kedro_run_id"]),
        ({**COMPLETE, "training_data": None}, ["training_data.sha256"]),
        ({**COMPLETE, "training_data": {"rows": 10}}, ["training_data.sha256"]),
        ({**COMPLETE, "packages": {}}, ["packages"]),
    ],
)
def test_missing_provenance_names_each_absent_field(record, missing):
    """A record is complete only with git state, run id, data fingerprint and package versions."""
    assert missing_provenance(record) == missing


def _locked() -> dict[str, str]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return {package["name"]: package.get("version") for package in lock["package"]}


def test_sbom_lists_what_the_bento_installs_at_the_locked_versions():
    """Every package bentofile.yaml installs, and each of their dependencies, at uv.lock's
    version; nothing only the development environment uses."""
    bom = bento_sbom(ROOT)
    assert (bom["bomFormat"], bom["specVersion"]) == ("CycloneDX", "1.5")
    locked = _locked()
    components = {c["name"]: c for c in bom["components"]}
    for component in bom["components"]:
        assert component["version"] == locked[component["name"]], component["name"]
        assert component["purl"] == f"pkg:pypi/{component['name']}@{component['version']}"
    requirements = yaml.safe_load((ROOT / "bentofile.yaml").read_text())["python"]["packages"]
    for requirement in requirements:
        name, pinned = requirement.split("==")
        assert components[name]["version"] == pinned
    assert {"starlette", "attrs", "scipy"} <= components.keys()  # dependencies of those
    assert not {"pytest", "ruff", "jupyterlab", "papermill"} & components.keys()
    refs = {c["bom-ref"] for c in bom["components"]} | {bom["metadata"]["component"]["bom-ref"]}
    for dependency in bom["dependencies"]:
        assert dependency["ref"] in refs and set(dependency["dependsOn"]) <= refs


def test_sbom_refuses_a_package_the_lock_does_not_hold(tmp_path):
    """A bentofile installing something uv.lock does not lock gets the fix, not a partial SBOM."""
    for name in ("pyproject.toml", "uv.lock"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    bentofile = yaml.safe_load((ROOT / "bentofile.yaml").read_text())
    bentofile["python"]["packages"].append("leftpad-nowhere==1.0")
    (tmp_path / "bentofile.yaml").write_text(yaml.safe_dump(bentofile))
    with pytest.raises(PackageError, match=r"\['leftpad-nowhere'\].*run uv lock"):
        bento_sbom(tmp_path)
