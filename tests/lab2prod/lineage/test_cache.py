"""`kedro run --cache`: unchanged work is never re-run, and every node that runs says why."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import kedro
from tests.lab2prod.lineage.conftest import (
    PACKAGE,
    latest_manifest,
    make_project,
    reasons,
    run_cached,
    statuses,
)

pytestmark = pytest.mark.slow

ALL = {"clean", "featurize", "summarize", "report"}


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def test_nothing_changed_runs_nothing(project: Path):
    """A second run with nothing changed caches every node and says so in the log."""
    manifest = run_cached(project)
    assert statuses(manifest) == dict.fromkeys(ALL, "cached")
    assert manifest["cache"]["cached"] == 4
    assert "cached  featurize" in manifest["log"]


def test_comment_and_docstring_edits_run_nothing(project: Path):
    """Comments, docstrings and blank lines are not code: nothing re-runs."""
    nodes = project / "src" / PACKAGE / "nodes.py"
    _edit(nodes, "# the factor comes from parameters_features", "# a different comment\n")
    _edit(nodes, '"""Scaled amounts."""', '"""Scaled amounts, documented at length."""')
    _edit(project / "src" / PACKAGE / "helpers.py", "Each value times factor.", "Multiplied.")
    assert statuses(run_cached(project)) == dict.fromkeys(ALL, "cached")


def test_helper_edit_reruns_its_caller_and_downstream_only(project: Path):
    """Editing a helper re-runs the node that calls it and what depends on it, naming it."""
    _edit(project / "src" / PACKAGE / "helpers.py", "value * factor", "value * factor + 1")
    manifest = run_cached(project)
    assert statuses(manifest) == {
        "clean": "cached",
        "featurize": "ran",
        "summarize": "ran",
        "report": "ran",
    }
    why = reasons(manifest)
    assert "code of scale (used by featurize) changed" in why["featurize"]
    assert "input features is re-made by featurize" in why["summarize"]
    assert "runs    featurize: code of scale (used by featurize) changed" in manifest["log"]


def test_parameter_change_reruns_its_readers_and_downstream(project: Path):
    """A parameter change re-runs the nodes that read it and downstream, naming the key."""
    manifest = run_cached(project, "--params", "features.factor=3")
    assert statuses(manifest) == {
        "clean": "cached",
        "featurize": "ran",
        "summarize": "ran",
        "report": "ran",
    }
    assert "parameter features.factor changed (2 -> 3)" in reasons(manifest)["featurize"]

    only_report = run_cached(project, "--params", "features.factor=3,report.title=Totals")
    assert statuses(only_report) == {**dict.fromkeys(ALL, "cached"), "report": "ran"}
    assert (
        "parameter report.title changed ('Amounts' -> 'Totals')" in reasons(only_report)["report"]
    )


def test_same_size_replacement_of_an_input_is_detected(project: Path):
    """An input rewritten with other bytes of the same size, its mtime put back, re-runs."""
    raw = project / "data" / "01_raw" / "raw.csv"
    before = raw.stat()
    text = raw.read_text()
    raw.write_text(text.replace("1,10", "1,19"))
    os.utime(raw, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert raw.stat().st_size == before.st_size
    manifest = run_cached(project)
    assert statuses(manifest) == dict.fromkeys(ALL, "ran")
    assert reasons(manifest)["clean"] == "input raw changed"


def test_rewriting_an_input_with_the_same_bytes_runs_nothing(project: Path):
    """A file written again with the same content (new mtime) is the same input."""
    raw = project / "data" / "01_raw" / "raw.csv"
    raw.write_bytes(raw.read_bytes())
    assert statuses(run_cached(project)) == dict.fromkeys(ALL, "cached")


def test_deleted_output_reruns_its_producer(project: Path):
    """A deleted output re-runs its producer and the producer of its in-memory input; the node
    upstream of both stays cached, and the node after it too once the output is made again
    with the bytes it had."""
    (project / "data" / "08_reporting" / "summary.json").unlink()
    manifest = run_cached(project)
    assert statuses(manifest) == {
        "clean": "cached",
        "featurize": "ran",
        "summarize": "ran",
        "report": "cached",
    }
    why = reasons(manifest)
    assert why["summarize"] == "output summary is missing"
    assert why["featurize"] == "its in-memory output features is needed by summarize, which runs"
    assert "runs    report: input summary is re-made by summarize" in manifest["log"]
    assert "cached  report: its re-made inputs came out the same" in manifest["log"]


def test_output_changed_by_hand_reruns_its_producer(project: Path):
    """An output edited since it was written re-runs the node that writes it."""
    (project / "data" / "08_reporting" / "report.json").write_text('{"title": "edited"}')
    manifest = run_cached(project)
    assert statuses(manifest) == {**dict.fromkeys(ALL, "cached"), "report": "ran"}
    assert reasons(manifest)["report"] == "output report changed since it was written"
    assert "Amounts" in (project / "data" / "08_reporting" / "report.json").read_text()


def test_always_run_tag_always_runs(project: Path):
    """A node tagged always_run runs on every run, saying so; the rest stay cached."""
    _edit(
        project / "src" / PACKAGE / "pipeline_registry.py",
        'name="clean")',
        'name="clean", tags=["always_run"])',
    )
    manifest = run_cached(project)
    assert reasons(manifest)["clean"] == "tagged always_run"
    # It made the same table: what reads it is cut off.
    assert statuses(manifest) == {**dict.fromkeys(ALL, "cached"), "clean": "ran"}


def test_rerun_that_makes_the_same_bytes_stops_there(project: Path):
    """A code edit that changes no output re-runs its node only: downstream, nodes whose re-made
    inputs came out as recorded are skipped after all (early cut-off), the in-memory value
    between featurize and summarize included (neither runs: it would be made the same way)."""
    _edit(project / "src" / PACKAGE / "nodes.py", "raw.dropna()", 'raw.dropna(how="any")')
    manifest = run_cached(project)
    assert statuses(manifest) == {**dict.fromkeys(ALL, "cached"), "clean": "ran"}
    assert manifest["cache"]["cut_off"] == 3
    assert "cached  featurize: its re-made inputs came out the same" in manifest["log"]
    assert "cached  report: its re-made inputs came out the same" in manifest["log"]


def test_parameter_that_changes_no_value_stops_at_its_reader(project: Path):
    """A parameter its reader does not use re-runs that node; the small in-memory value it makes
    is compared by content, so nothing after it runs. A value that does change still
    re-runs everything downstream (test above: features.factor)."""
    manifest = run_cached(project, "--params", "features.note=unused")
    assert statuses(manifest) == {**dict.fromkeys(ALL, "cached"), "featurize": "ran"}
    assert "parameter features.note was added ('unused')" in reasons(manifest)["featurize"]
    assert "cached  summarize: its re-made inputs came out the same" in manifest["log"]


@pytest.mark.parametrize(
    "runner",
    [
        ["--runner", "ParallelRunner"],
        ["--runner", "lab2prod.runner.DaskRunner", "--runner-params", "n_workers=2"],
    ],
    ids=["parallel", "dask"],
)
def test_runners_with_other_processes_record_and_cache(tmp_path: Path, runner: list[str]):
    """Nodes run in worker processes are recorded from the runner's process: a plain run's
    manifest holds every node, the next `--cache` run skips them all, and a parameter change
    re-runs its readers and downstream only, with that runner."""
    project = make_project(tmp_path / "project")
    plain = kedro(project, "run", *runner)
    assert plain.returncode == 0, plain.stdout[-3000:] + plain.stderr[-3000:]
    first = latest_manifest(project)
    assert statuses(first) == dict.fromkeys(ALL, "ran")
    assert first["nodes"]["summarize"]["inputs"]["features"]["digest"]
    index = json.loads((project / "data" / "09_tracking" / "cache" / "nodes.json").read_text())
    assert {record["run_id"] for record in index.values()} == {first["run_id"]}

    assert statuses(run_cached(project, *runner)) == dict.fromkeys(ALL, "cached")
    changed = run_cached(project, *runner, "--params", "features.factor=3")
    assert statuses(changed) == {**dict.fromkeys(ALL, "ran"), "clean": "cached"}
    assert statuses(run_cached(project, "--params", "features.factor=3")) == dict.fromkeys(
        ALL, "cached"
    )
