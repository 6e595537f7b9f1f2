"""A tiny Kedro project with lab2prod's manifest hooks, for the lineage and cache tests.

Four nodes, the shapes the cache must get right: a file input, a persisted table, an in-memory
value between two nodes, a helper in another module, two parameter groups::

    raw (CSV) -> clean -> clean_table (parquet) -> featurize (helpers.scale, params:features)
      -> features (memory) -> summarize -> summary (JSON) -> report (params:report) -> report
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import kedro, make_kedro_skeleton

PACKAGE = "tiny_lineage"

NODES = '''"""Nodes of the tiny project."""

from __future__ import annotations

import pandas as pd

from tiny_lineage.helpers import scale


def clean(raw: pd.DataFrame) -> pd.DataFrame:
    """Rows with an amount."""
    return raw.dropna()


def featurize(table: pd.DataFrame, features: dict) -> list:
    """Scaled amounts."""
    # the factor comes from parameters_features
    return scale(list(table["amount"]), features["factor"])


def summarize(values: list) -> dict:
    """Count and total."""
    return {"count": len(values), "total": float(sum(values))}


def report(summary: dict, options: dict) -> dict:
    """The summary under a title."""
    return {"title": options["title"], **summary}
'''

HELPERS = '''"""Helpers the nodes use."""


def scale(values, factor):
    """Each value times factor."""
    return [value * factor for value in values]
'''

PIPELINE = '''"""The tiny pipeline."""

from kedro.pipeline import Pipeline, node

from tiny_lineage.nodes import clean, featurize, report, summarize


def register_pipelines():
    pipeline = Pipeline(
        [
            node(clean, "raw", "clean_table", name="clean"),
            node(featurize, ["clean_table", "params:features"], "features", name="featurize"),
            node(summarize, "features", "summary", name="summarize"),
            node(report, ["summary", "params:report"], "report", name="report"),
        ]
    )
    return {"__default__": pipeline}
'''

CATALOG = """raw:
  type: pandas.CSVDataset
  filepath: data/01_raw/raw.csv
clean_table:
  type: pandas.ParquetDataset
  filepath: data/02_intermediate/clean.parquet
summary:
  type: json.JSONDataset
  filepath: data/08_reporting/summary.json
report:
  type: json.JSONDataset
  filepath: data/08_reporting/report.json
"""

PARAMETERS = """features:
  factor: 2
report:
  title: Amounts
"""

RAW = "id,amount\n1,10\n2,20\n3,\n4,40\n"


def make_project(root: Path) -> Path:
    """The tiny project, its raw data written, never run."""
    make_kedro_skeleton(root, PACKAGE)
    package = root / "src" / PACKAGE
    (package / "settings.py").write_text(
        "from lab2prod.lineage import ManifestHooks\n\nHOOKS = (ManifestHooks(),)\n"
    )
    (package / "nodes.py").write_text(NODES)
    (package / "helpers.py").write_text(HELPERS)
    (package / "pipeline_registry.py").write_text(PIPELINE)
    (root / "conf" / "base" / "catalog.yml").write_text(CATALOG)
    (root / "conf" / "base" / "parameters.yml").write_text(PARAMETERS)
    (root / "data" / "01_raw").mkdir(parents=True)
    (root / "data" / "01_raw" / "raw.csv").write_text(RAW)
    return root


def run_cached(project: Path, *args: str) -> dict[str, Any]:
    """``kedro run --cache ARGS`` in ``project``; its manifest (the run must succeed)."""
    result = kedro(project, "run", "--cache", *args)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    manifest = latest_manifest(project)
    manifest["log"] = result.stdout + result.stderr
    return manifest


def latest_manifest(project: Path) -> dict[str, Any]:
    """The newest run manifest of ``project``."""
    runs = sorted((project / "data" / "09_tracking" / "runs").glob("*.json"))
    return json.loads(runs[-1].read_text())


def statuses(manifest: dict[str, Any]) -> dict[str, str]:
    """``{node: "ran" | "cached" | ...}``."""
    return {name: entry["status"] for name, entry in manifest["nodes"].items()}


def reasons(manifest: dict[str, Any]) -> dict[str, str]:
    """``{node: why it ran}`` for the nodes that ran."""
    return {
        name: entry.get("reason") or ""
        for name, entry in manifest["nodes"].items()
        if entry["status"] == "ran"
    }


@pytest.fixture(scope="module")
def warm_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny project after one `kedro run --cache` (everything ran and was recorded)."""
    project = make_project(tmp_path_factory.mktemp("lineage") / "warm")
    first = run_cached(project)
    assert set(statuses(first).values()) == {"ran"}, first["nodes"]
    return project


@pytest.fixture
def project(warm_project: Path, tmp_path: Path) -> Path:
    """A copy of the warm project this test may change."""
    copy = tmp_path / "project"
    shutil.copytree(warm_project, copy)
    return copy
