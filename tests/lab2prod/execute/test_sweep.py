"""Sweeps: options read as typed values, the grid expanded, bad names caught, runs summarised."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest

from lab2prod.errors import CellExecutionError, KernelDiedError, NotebookParameterError
from lab2prod.execute.grid import Run, expand_grid, parse_grid, parse_parameters, parse_value
from lab2prod.execute.summary import render_table
from lab2prod.execute.sweep import RunResult, SweepResult, plan_sweep, run_sweep
from lab2prod.notebook import read_notebook
from tests.conftest import ROOT

NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
SWEEP_SQUARE = NOTEBOOKS / "sweep_square.ipynb"

VALUES = [
    ("3", 3),
    ("-2", -2),
    ("1_000", 1000),
    ("010", 10),
    ("0.5", 0.5),
    ("1e-3", 0.001),
    ("-inf", -math.inf),
    ("true", True),
    ("False", False),
    ("null", None),
    ("None", None),
    ("~", None),
    ('"3"', "3"),
    ("'true'", "true"),
    ("yes", "yes"),
    ("adam", "adam"),
    ("2024-01-01", "2024-01-01"),
    ("0x10", "0x10"),
    ("a=b", "a=b"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "value"), VALUES, ids=[text or "empty" for text, _ in VALUES])
def test_values_are_read_as_yaml_scalars(text: str, value: Any):
    """A typed value becomes the int, float, bool, None or string a YAML reader would make."""
    parsed = parse_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_nan_is_a_float():
    """`nan` is a float NaN, which papermill writes as float('nan')."""
    assert math.isnan(parse_value("nan"))


def test_parameter_values_are_whole():
    """A -p value is one value, commas included; `key=` is the empty string."""
    assert parse_parameters(["lr=1e-3", "title=a,b", "note="]) == {
        "lr": 0.001,
        "title": "a,b",
        "note": "",
    }


def test_grid_values_split_on_commas_outside_quotes():
    """Grid values split on commas, spaces around them dropped; a quoted comma stays."""
    grid = parse_grid(["opt=adam, sgd", 'title="a,b",c', "lr=1e-3,0.01"])
    assert grid == {"opt": ["adam", "sgd"], "title": ["a,b", "c"], "lr": [0.001, 0.01]}


BAD_OPTIONS = [
    pytest.param(["x"], [], "-p 'x' is not key=value", id="-p without ="),
    pytest.param(["1x=2"], [], "-p '1x=2' is not key=value with a parameter name", id="bad name"),
    pytest.param(["x=1", "x=2"], [], "-p x is given twice", id="-p twice"),
    pytest.param([], ["x=1", "x=2"], "--grid x is given twice", id="--grid twice"),
    pytest.param([], ["x=1,2,1"], "--grid x=1,2,1 lists '1' more than once", id="repeated value"),
    pytest.param(["x=1"], ["x=2,3"], "'x' given both with -p and with --grid", id="-p and --grid"),
]


@pytest.mark.parametrize(("parameters", "grid", "message"), BAD_OPTIONS)
def test_bad_options_are_parameter_errors(parameters: list[str], grid: list[str], message: str):
    """An option that cannot be read is a parameter error (exit code 6) naming it."""
    with pytest.raises(NotebookParameterError) as caught:
        plan_sweep(read_notebook(SWEEP_SQUARE), parameter_options=parameters, grid_options=grid)
    assert message in str(caught.value)
    assert caught.value.exit_code == 6


def test_grid_expands_to_the_cartesian_product_in_order():
    """Every combination runs, the first grid key varying slowest, named by its grid values."""
    runs = expand_grid({"epochs": 5}, parse_grid(["lr=1e-3,0.01", "depth=3,6"]))
    assert [run.name for run in runs] == [
        "lr=0.001,depth=3",
        "lr=0.001,depth=6",
        "lr=0.01,depth=3",
        "lr=0.01,depth=6",
    ]
    assert runs[1].parameters == {"lr": 0.001, "depth": 6, "epochs": 5}


NAMES = [
    ({}, {}, ["defaults"]),
    ({"x": 4}, {}, ["x=4"]),
    ({}, {"path": ["a/b", "a_b", "A_B"]}, ["path=a_b", "path=a_b~2", "path=A_B~3"]),
    ({}, {"title": ["long " * 30]}, ["title=" + "long_" * 14 + "long"]),
]


@pytest.mark.parametrize(("parameters", "grid", "names"), NAMES)
def test_run_names_are_filesystem_safe_and_unique(
    parameters: dict[str, Any], grid: dict[str, list[Any]], names: list[str]
):
    """Run folders never contain a slash, stay short, and differ even without case."""
    assert [run.name for run in expand_grid(parameters, grid)] == names


def test_unknown_names_fail_before_any_kernel_with_did_you_mean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """All misspelt names are listed in one error, each with its near match; nothing starts."""
    from lab2prod.execute.kernel import ProjectKernelManager

    def no_kernel(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(ProjectKernelManager, "start_kernel", no_kernel)
    notebook = read_notebook(NOTEBOOKS / "unknown_parameter.ipynb")
    with pytest.raises(NotebookParameterError) as caught:
        plan_sweep(notebook, parameter_options=["learning_rte=0.2"], grid_options=["n_estmators=1"])
    message = str(caught.value)
    assert "'learning_rte' (did you mean 'learning_rate'?)" in message
    assert "'n_estmators' (did you mean 'n_estimators'?)" in message
    assert caught.value.names == ["learning_rte", "n_estmators"]

    with pytest.raises(NotebookParameterError, match="n_estmators"):
        run_sweep(notebook.path, [Run("r", {"n_estmators": 1})], output_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_notebook_without_parameters_cell_takes_no_parameters():
    """Parameters for a notebook with no `parameters` cell are refused, saying how to add one."""
    with pytest.raises(NotebookParameterError, match="has no cell tagged 'parameters'"):
        plan_sweep(
            read_notebook(NOTEBOOKS / "no_parameters.ipynb"),
            parameter_options=[],
            grid_options=["alpha=1,2"],
        )


def test_a_sweep_never_writes_into_a_folder_with_files(tmp_path: Path):
    """An output directory that holds files is refused before any run."""
    (tmp_path / "old.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="is not empty"):
        run_sweep(SWEEP_SQUARE, expand_grid({}, {"x": [1]}), output_dir=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["old.txt"]


def _result(status: str, exception: BaseException | None = None) -> RunResult:
    return RunResult(Run(status, {}), status, exception=exception)


def _cell_error() -> CellExecutionError:
    return CellExecutionError(
        "m",
        notebook="n",
        cell_index=1,
        saved="s",
        execution_count=1,
        line=None,
        line_number=None,
        ename="E",
        evalue="v",
        traceback="",
    )


EXIT_CODES = [
    pytest.param([_result("ok")], 0, id="all ok"),
    pytest.param([_result("ok"), _result("failed-cell", _cell_error())], 3, id="one failed cell"),
    pytest.param(
        [_result("failed-cell", _cell_error()), _result("failed-cell", _cell_error())],
        3,
        id="two failed cells",
    ),
    pytest.param(
        [
            _result("failed-cell", _cell_error()),
            _result("kernel-died", KernelDiedError("m", notebook="n", cell_index=1, saved="s")),
        ],
        1,
        id="mixed",
    ),
    pytest.param([_result("error", OSError("disk full"))], 1, id="unexpected error"),
]


@pytest.mark.parametrize(("results", "exit_code"), EXIT_CODES)
def test_sweep_exit_code_names_the_kind_of_failure(results: list[RunResult], exit_code: int):
    """The exit code is the failures' own when they share one kind, 1 when they are mixed."""
    sweep = SweepResult(Path("n"), Path("o"), results, Path("c"), Path("j"), 0.0)
    assert sweep.exit_code == exit_code


@pytest.mark.slow
def test_sweep_runs_every_combination_and_one_failure_stops_no_other(tmp_path: Path):
    """Four runs on two workers: x=3 fails its cell, the other three record their squares."""
    runs = plan_sweep(read_notebook(SWEEP_SQUARE), parameter_options=[], grid_options=["x=1,2,3,4"])
    result = run_sweep(SWEEP_SQUARE, runs, output_dir=tmp_path / "sweep", workers=2)

    assert [(r.run.name, r.status) for r in result.results] == [
        ("x=1", "ok"),
        ("x=2", "ok"),
        ("x=3", "failed-cell"),
        ("x=4", "ok"),
    ]
    assert [r.records.get("square") for r in result.results] == [1, 4, None, 16]
    assert result.exit_code == 3
    failed = result.results[2]
    assert failed.error == "ValueError: x must not be 3 (code cell 3, line 2)"
    for r in result.results:
        assert r.notebook == tmp_path / "sweep" / r.run.name / "sweep_square.ipynb"
        assert r.notebook.exists() and r.notebook.with_suffix(".html").exists()

    with result.summary_csv.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["run"], row["status"], row["records.square"]) for row in rows] == [
        ("x=1", "ok", "1"),
        ("x=2", "ok", "4"),
        ("x=3", "failed-cell", ""),
        ("x=4", "ok", "16"),
    ]
    assert rows[3]["parameters.x"] == "4"
    assert rows[3]["record_files.powers"] == "x=4/records/powers.json"
    assert json.loads((tmp_path / "sweep" / rows[3]["record_files.powers"]).read_text()) == [
        4,
        16,
        64,
    ]
    assert rows[2]["error"] == failed.error
    assert float(rows[0]["duration_s"]) > 0

    summary = json.loads(result.summary_json.read_text())
    assert summary["workers"] == 2
    assert [run["records"] for run in summary["runs"]] == [
        {"square": 1},
        {"square": 4},
        {},
        {"square": 16},
    ]
    assert summary["runs"][2]["notebook"] == "x=3/sweep_square.ipynb"

    table = render_table(result.results).splitlines()
    assert table[0].split() == ["run", "square", "status", "seconds"]
    assert table[3].split()[:2] == ["x=3", "failed-cell"]


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_kernels_run_at_once_share_the_cores_between_their_thread_pools(
    tmp_path: Path, monkeypatch, workers: int
):
    """Two kernels at once each size OpenMP and BLAS to half the cores; a lone kernel keeps
    them all (each kernel sizing its pools to the whole machine would fight the other)."""
    from lab2prod.threadpools import SETTING, THREAD_VARIABLES, available_cores

    for name in (*THREAD_VARIABLES, SETTING):
        monkeypatch.delenv(name, raising=False)
    notebook = NOTEBOOKS / "reports_thread_pools.ipynb"
    runs = plan_sweep(read_notebook(notebook), parameter_options=[], grid_options=["run=1,2"])
    result = run_sweep(notebook, runs, output_dir=tmp_path / "sweep", workers=workers)

    cores = available_cores()
    share = max(1, cores // workers)
    assert workers == 1 or share < cores or cores == 1
    assert [r.status for r in result.results] == ["ok", "ok"], [r.error for r in result.results]
    for r in result.results:
        assert r.records == {"openmp": share, "blas": share}
