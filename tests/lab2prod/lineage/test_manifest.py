"""The run manifest: one JSON per `kedro run`, saying what produced what."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import kedro
from tests.lab2prod.lineage.conftest import PACKAGE, latest_manifest, run_cached

pytestmark = pytest.mark.slow


def test_manifest_of_a_run(warm_project: Path):
    """Command, pipelines, parameters, every dataset's fingerprint and every node's record."""
    manifest = latest_manifest(warm_project)
    assert manifest["status"] == "succeeded"
    assert manifest["finished"] >= manifest["started"]
    assert manifest["command"][:2] == ["kedro", "run"]
    assert manifest["pipelines"] == ["__default__"]
    assert manifest["parameters"]["values"] == {
        "features": {"factor": 2},
        "report": {"title": "Amounts"},
    }
    raw = warm_project / "data" / "01_raw" / "raw.csv"
    datasets = manifest["datasets"]
    assert datasets["raw"]["type"] == "kedro_datasets.pandas.csv_dataset.CSVDataset"
    assert datasets["raw"]["fingerprint_read"]["digest"] == (
        "sha256:" + hashlib.sha256(raw.read_bytes()).hexdigest()
    )
    assert datasets["raw"]["read_by"] == ["clean"]
    assert datasets["clean_table"]["written_by"] == "clean"
    # A small in-memory value is fingerprinted by its content, as its node returned it.
    features = json.dumps([20.0, 40.0, 80.0], sort_keys=True).encode()
    assert datasets["features"]["fingerprint_written"] == {
        "kind": "memory",
        "producer": "featurize",
        "digest": "value:sha256:" + hashlib.sha256(features).hexdigest(),
    }
    featurize = manifest["nodes"]["featurize"]
    assert featurize["parameters"]["params:features"]["value"] == {"factor": 2}
    assert f"{PACKAGE}.helpers.scale" in featurize["code"]["functions"]
    # Outside git, and without a lockfile, the manifest says so rather than failing.
    assert manifest["git"]["commit"] is None
    assert manifest["lock"] is None
    assert (
        manifest["run_id"]
        == Path(sorted((warm_project / "data" / "09_tracking" / "runs").glob("*.json"))[-1]).stem
    )


def _git(project: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=project,
        check=True,
        capture_output=True,
    )


def test_git_commit_and_uncommitted_diff_hash(project: Path):
    """The commit, and a hash of the uncommitted diff that changes with its content, untracked
    files included; the lockfile's hash."""
    (project / "uv.lock").write_text("version = 1\n")
    (project / ".gitignore").write_text("data/\n")
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "start")
    clean = run_cached(project)
    assert clean["git"]["dirty"] is False and clean["git"]["diff_sha256"] is None
    assert len(clean["git"]["commit"]) == 40
    assert clean["lock"] == {
        "file": "uv.lock",
        "sha256": hashlib.sha256(b"version = 1\n").hexdigest(),
    }
    (project / "src" / PACKAGE / "notes.py").write_text("A = 1\n")
    first = run_cached(project)["git"]
    (project / "src" / PACKAGE / "notes.py").write_text("A = 2\n")
    second = run_cached(project)["git"]
    assert first["dirty"] and second["dirty"]
    assert first["diff_sha256"] != second["diff_sha256"]
    assert first["commit"] == clean["git"]["commit"]


def test_failed_run_manifest_says_failed(project: Path):
    """A run that fails leaves a manifest saying so, with the error and the failing node; the
    nodes that finished are recorded, so the next run resumes after them."""
    nodes = project / "src" / PACKAGE / "nodes.py"
    nodes.write_text(
        nodes.read_text().replace(
            '    return {"count"', '    raise ValueError("no summary")\n    return {"count"'
        )
    )
    (project / "data" / "08_reporting" / "summary.json").unlink()
    result = kedro(project, "run")
    assert result.returncode != 0
    manifest = latest_manifest(project)
    assert manifest["status"] == "failed"
    assert manifest["error"] == {"type": "ValueError", "message": "no summary"}
    assert manifest["nodes"]["summarize"]["status"] == "failed"
    assert manifest["nodes"]["report"]["status"] == "not run"
    assert manifest["nodes"]["clean"]["status"] == "ran"
    index = json.loads((project / "data" / "09_tracking" / "cache" / "nodes.json").read_text())
    assert index["clean"]["run_id"] == manifest["run_id"]
