"""`kedro lineage` and `kedro reproduce`: from a model back to its run, and the run again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import kedro
from tests.lab2prod.lineage.conftest import latest_manifest

pytestmark = pytest.mark.slow


def test_tampered_input_and_changed_parameter_are_named(project: Path):
    """`kedro reproduce --check-only` names each input whose content differs, each parameter
    key that changed and each node whose code changed (git or not), and exits 1."""
    run_id = latest_manifest(project)["run_id"]
    clean = kedro(project, "reproduce", run_id, "--check-only")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "match the run" in clean.stdout
    raw = project / "data" / "01_raw" / "raw.csv"
    raw.write_text(raw.read_text().replace("4,40", "4,41"))
    parameters = project / "conf" / "base" / "parameters.yml"
    parameters.write_text(parameters.read_text().replace("factor: 2", "factor: 5"))
    result = kedro(project, "reproduce", run_id, "--check-only")
    assert result.returncode == 1
    assert "input  raw: content differs" in result.stdout
    assert "parameter features.factor changed (2 -> 5)" in result.stdout
    assert "Error: 2 difference(s) from the run" in result.stderr
    helpers = project / "src" / "tiny_lineage" / "helpers.py"
    helpers.write_text(helpers.read_text().replace("value * factor", "value * factor * 1"))
    edited = kedro(project, "reproduce", run_id, "--check-only")
    assert "code  featurize: code of scale (used by featurize) changed" in edited.stdout


def test_lineage_of_a_run_as_tree_and_json(project: Path):
    """`kedro lineage RUN_ID` prints the run's code, parameters and data; -o writes the same
    as JSON."""
    tree = kedro(project, "lineage", "latest")
    assert tree.returncode == 0, tree.stderr
    assert "code: not in a git repository" in tree.stdout
    assert "raw: data/01_raw/raw.csv sha256:" in tree.stdout
    assert kedro(project, "lineage", "latest", "-o", "lineage.json").returncode == 0
    as_json = json.loads((project / "lineage.json").read_text())
    assert as_json["datasets"]["report"]["written_by"] == "report"
    assert as_json["parameters"]["params:features"] == {"factor": 2}


def test_unknown_tag_is_one_clear_line(project: Path):
    """A tag that names nothing is said so in one line, no traceback."""
    result = kedro(project, "lineage", "2020-01-01T00.00.00.000Z")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "neither a run id" in result.stderr
