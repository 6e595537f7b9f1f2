"""`kedro notebook run --cluster`: a sweep on Dask workers gives what the local sweep gives."""

from __future__ import annotations

import json
from pathlib import Path

import dask
import pytest

from lab2prod.errors import ClusterConfigError
from lab2prod.execute.grid import expand_grid
from lab2prod.execute.sweep import SweepResult, run_sweep
from tests.conftest import ROOT

SWEEP_SQUARE = ROOT / "tests" / "fixtures" / "notebooks" / "sweep_square.ipynb"


def _what_users_see(result: SweepResult) -> dict:
    """Everything of a sweep but timings and the machine's paths."""
    summary = json.loads(result.summary_json.read_text())
    for run in summary["runs"]:
        run.pop("duration_s")
    summary.pop("duration_s")
    summary.pop("workers")
    files = {
        path.relative_to(result.output_dir).as_posix()
        for path in result.output_dir.rglob("*")
        if path.is_file()
    }
    records = {
        path.relative_to(result.output_dir).as_posix(): path.read_bytes()
        for path in result.output_dir.glob("*/records/*")
    }
    statuses = [(r.run.name, r.status, r.error, r.exit_code) for r in result.results]
    return {"summary": summary, "files": files, "records": records, "statuses": statuses}


@pytest.mark.slow
def test_a_sweep_on_the_cluster_gives_the_local_sweeps_records(processes, tmp_path: Path):
    """Same statuses (x=3 fails its cell), records, files and summary rows."""
    runs = expand_grid({}, {"x": [1, 2, 3, 4]})
    local = run_sweep(SWEEP_SQUARE, runs, output_dir=tmp_path / "local", workers=2)
    address = processes.scheduler.address
    remote = run_sweep(SWEEP_SQUARE, runs, output_dir=tmp_path / "cluster", cluster=address)

    assert _what_users_see(remote) == _what_users_see(local)
    assert [r.records.get("square") for r in remote.results] == [1, 4, None, 16]
    assert remote.exit_code == local.exit_code == 3
    for result in remote.results:
        assert result.notebook == tmp_path / "cluster" / result.run.name / "sweep_square.ipynb"
        assert result.notebook.is_file() and result.notebook.with_suffix(".html").is_file()
    assert json.loads(remote.summary_json.read_text())["workers"] == 2


def test_an_unreachable_cluster_is_named_before_any_run(tmp_path: Path):
    """The address and the way out; nothing written."""
    runs = expand_grid({}, {"x": [1]})
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "2s"}),
        pytest.raises(ClusterConfigError, match=r"Cannot reach the Dask scheduler at tcp://127"),
    ):
        run_sweep(SWEEP_SQUARE, runs, output_dir=tmp_path / "out", cluster="tcp://127.0.0.1:9")
    assert not any((tmp_path / "out").iterdir())
