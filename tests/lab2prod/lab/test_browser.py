"""lab2prod's panel in a real JupyterLab, driven in Debian's Chromium by playwright-core.

The scenario (labextension/ui-tests/scenario.js) opens the example notebook, sees the panel
list its nodes, tags a cell `skip` and sees its node go, converts and sees the files, verifies
and sees every dataset equal, edits a cell and sees the pipeline go stale. Its screenshots are
kept in .artifacts/jupyterlab/ (docs/jupyterlab.md shows two of them).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import KEDRO, make_project_copy
from tests.lab2prod.lab.jupyter import ARTIFACTS, BUILT, jupyter, require_browser_tools, run_node

SMALL_DATA = (
    "data_generation.n_transactions=6000,data_generation.n_customers=400,"
    "data_generation.n_merchants=80"
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The example project with small generated data and nothing converted yet."""
    root = make_project_copy(tmp_path / "project")
    for name in (
        "notebooks.yml",
        "catalog_customer_profiles.yml",
        "parameters_customer_profiles.yml",
    ):
        (root / "conf" / "base" / name).unlink()
    generated = subprocess.run(
        [str(KEDRO), "run", "--pipelines", "data_generation", "--params", SMALL_DATA],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert generated.returncode == 0, generated.stderr[-3000:]
    return root


@pytest.mark.slow
def test_panel_skip_convert_verify_stale_in_a_real_browser(project: Path, tmp_path: Path):
    """The issue's scenario, step by step, with a screenshot of each."""
    require_browser_tools()
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    with jupyter(
        project,
        tmp_path / "jupyter",
        python=Path(sys.executable),
        app="jupyterlab",
        extension=BUILT,
    ) as lab:
        done = run_node(
            "scenario.js",
            {
                "LAB_URL": lab.url,
                "LAB_TOKEN": lab.token,
                "NOTEBOOK": "notebooks/02_customer_profiles.ipynb",
                "ARTIFACTS": str(ARTIFACTS),
                "EXPECT_NODES": ",".join(
                    [
                        "profile_each_customer",
                        "flag_high_spenders",
                        "spend_distribution",  # a section that plots is a node
                        "rank_customers",
                    ]
                ),
                "SKIP_NODE": "rank_customers",
            },
            timeout=600,
        )
        server_log = lab.log.read_text()
    assert done.returncode == 0, (
        f"{done.stdout}\n{done.stderr}\n--- server log ---\n{server_log[-4000:]}"
    )
    assert "verify: 6 datasets equal" in done.stdout
    for step in (
        "01-panel-lists-the-nodes",
        "02-skip-tag-removes-the-node",
        "03-convert-writes-the-files",
        "04-verify-every-dataset-equal",
        "05-edit-makes-it-stale",
    ):
        assert (ARTIFACTS / f"{step}.png").stat().st_size > 10_000, step
    record = yaml.safe_load((project / "conf" / "base" / "notebooks.yml").read_text())
    assert record["customer_profiles"]["notebook"] == "notebooks/02_customer_profiles.ipynb"
    assert (project / "src/fraud_detection/pipelines/customer_profiles/nodes.py").is_file()
    assert (project / "conf/base/catalog_customer_profiles.yml").is_file()
