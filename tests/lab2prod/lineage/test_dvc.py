"""`kedro dvc sync`: DVC's pipeline file from the Kedro pipelines; `dvc repro` runs them and
`dvc push` / `dvc pull` move the data through a real S3 server."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, kedro
from tests.lab2prod.lineage.conftest import PACKAGE, make_project

# The local S3 server of the object-storage test (module-scoped: started once here too).
from tests.pipelines.data_processing.test_object_storage import (
    BUCKET,
    S3Server,
    s3,  # noqa: F401 (a fixture)
)

DVC_BIN = ROOT / ".tools" / "dvc" / "bin"


def test_sync_writes_one_stage_per_pipeline_and_check_sees_drift(tmp_path: Path):
    """The stage runs the pipeline, depends on its code, input file and parameter keys, and
    outputs its persisted datasets; --check fails once the pipeline reads another parameter."""
    project = make_project(tmp_path / "project")
    written = kedro(project, "dvc", "sync")
    assert written.returncode == 0, written.stderr[-2000:]
    stage = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]["__default__"]
    assert stage == {
        "cmd": "kedro run",
        "deps": [
            "data/01_raw/raw.csv",
            f"src/{PACKAGE}/helpers.py",
            f"src/{PACKAGE}/nodes.py",
        ],
        "params": [{"conf/base/parameters.yml": ["features", "report"]}],
        "outs": [
            "data/02_intermediate/clean.parquet",
            "data/08_reporting/report.json",
            "data/08_reporting/summary.json",
        ],
    }
    assert kedro(project, "dvc", "sync", "--check").returncode == 0
    registry = project / "src" / PACKAGE / "pipeline_registry.py"
    registry.write_text(registry.read_text().replace('"summary", name=', '"summary_x", name='))
    stale = kedro(project, "dvc", "sync", "--check")
    assert stale.returncode == 1
    assert "dvc.yaml is out of date with the pipelines" in stale.stderr


def _run(project: Path, *args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        list(args), cwd=project, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"{args}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
    return result.stdout + result.stderr


@pytest.mark.slow
def test_repro_push_and_pull_through_s3(tmp_path: Path, s3: S3Server):  # noqa: F811
    """`dvc repro` runs `kedro run`; the raw data is DVC's (`dvc add`), not git's; `dvc push`
    sends data to the S3 remote and `dvc pull` brings back the same bytes into an empty
    checkout; a second `dvc repro` runs nothing."""
    if not (DVC_BIN / "dvc").exists():
        pytest.fail("`make test-tools` installs DVC (tools/dvc) into .tools/dvc")
    project = make_project(tmp_path / "project")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{DVC_BIN}{os.pathsep}"
        f"{os.environ['PATH']}",
        "AWS_ACCESS_KEY_ID": s3.key,
        "AWS_SECRET_ACCESS_KEY": s3.secret,
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    _run(project, "git", "init", "-q", env=env)
    _run(project, "dvc", "init", "-q", env=env)
    _run(project, "dvc", "config", "core.analytics", "false", env=env)
    _run(project, "dvc", "remote", "add", "-d", "storage", f"s3://{BUCKET}/dvc", env=env)
    _run(project, "dvc", "remote", "modify", "storage", "endpointurl", s3.endpoint, env=env)
    _run(project, "dvc", "add", "data/01_raw/raw.csv", env=env)
    assert kedro(project, "dvc", "sync").returncode == 0
    log = _run(project, "dvc", "repro", env=env)
    assert "Running stage '__default__'" in log
    report = project / "data" / "08_reporting" / "report.json"
    digest = hashlib.sha256(report.read_bytes()).hexdigest()
    assert "raw.csv" in (project / "data" / "01_raw" / ".gitignore").read_text()
    _run(project, "git", "add", "-A", env=env)
    _run(project, "git", "commit", "-qm", "pipeline and data", env=env)
    _run(project, "dvc", "push", env=env)
    pushed = s3.keys()  # the server's objects (S3Server.keys lists the bucket)
    assert any(key.startswith("dvc/") for key in pushed)

    clone = tmp_path / "clone"
    _run(tmp_path, "git", "clone", "-q", str(project), str(clone), env=env)
    assert not (clone / "data" / "08_reporting" / "report.json").exists()
    _run(clone, "dvc", "remote", "modify", "storage", "endpointurl", s3.endpoint, env=env)
    _run(clone, "dvc", "pull", env=env)
    assert hashlib.sha256((clone / "data/08_reporting/report.json").read_bytes()).hexdigest() == (
        digest
    )
    assert (clone / "data/01_raw/raw.csv").read_text() == (
        project / "data/01_raw/raw.csv"
    ).read_text()
    again = _run(clone, "dvc", "repro", env=env)
    assert "Running stage" not in again
    shutil.rmtree(clone)
