"""notebook_node: a notebook as a Kedro node, checked when built, run in a real pipeline."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner
from kedro_datasets.matplotlib import MatplotlibDataset
from kedro_datasets.pandas import ParquetDataset

from lab2prod import notebook_node
from lab2prod.errors import MissingRecordError, NotebookParameterError, NotebookReadError
from tests.conftest import ROOT

NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
RECORDS_VALUES = NOTEBOOKS / "records_values.ipynb"


BAD_NODES = [
    pytest.param(
        {"inputs": {"transaction": "raw_transactions"}},
        NotebookParameterError,
        "does not declare the input 'transaction' (did you mean 'transactions'?)",
        id="misspelt input",
    ),
    pytest.param(
        {"parameters": {"treshold": "params:threshold"}},
        NotebookParameterError,
        "does not declare the parameter 'treshold' (did you mean 'threshold'?)",
        id="misspelt catalog parameter",
    ),
    pytest.param(
        {"parameters": ["labels"]},
        NotebookParameterError,
        "'labels' (did you mean 'label'?)",
        id="misspelt parameter key",
    ),
    pytest.param(
        {"parameters": {"label": ("weekly",)}},
        NotebookParameterError,
        "parameter 'label' holds a value of type tuple",
        id="literal papermill cannot write",
    ),
    pytest.param(
        {"inputs": ["model.scores"]},
        ValueError,
        "inputs entry 'model.scores' is not a Python identifier",
        id="dataset name that is no variable",
    ),
    pytest.param(
        {"parameters": {"label": "weekly"}},
        ValueError,
        "has no inputs and no outputs, and Kedro needs one of them",
        id="nothing for Kedro to wire",
    ),
    pytest.param(
        {"inputs": ["threshold"], "parameters": ["threshold"]},
        ValueError,
        "'threshold' is given both as an input and as a parameter",
        id="input and parameter",
    ),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD_NODES)
def test_bad_nodes_fail_when_the_pipeline_is_built(
    kwargs: dict[str, Any], error: type[Exception], message: str
):
    """A name the notebook does not declare stops the pipeline before any node runs."""
    with pytest.raises(error, match=re.escape(message)):
        notebook_node(RECORDS_VALUES, **kwargs)


def test_missing_notebook_fails_when_the_pipeline_is_built(tmp_path: Path):
    """A notebook path that does not exist fails at build time, naming the path."""
    with pytest.raises(NotebookReadError, match=r"typo\.ipynb does not exist"):
        notebook_node(tmp_path / "typo.ipynb")


def test_node_wiring_follows_the_mappings():
    """Inputs, catalog parameters and outputs become the node's datasets; literals do not."""
    node = notebook_node(
        RECORDS_VALUES,
        inputs=["transactions"],
        parameters={"threshold": "params:report.threshold", "label": "weekly"},
        outputs={"fraud_rate": "report_fraud_rate", "amounts_plot": "report_amounts_plot"},
    )
    assert node.name == "records_values"
    assert sorted(node.inputs) == ["params:report.threshold", "transactions"]
    assert sorted(node.outputs) == ["report_amounts_plot", "report_fraud_rate"]
    renamed = notebook_node(RECORDS_VALUES, outputs=["label"], name="weekly_report")
    assert renamed.name == "weekly_report"


@pytest.mark.slow
def test_notebook_node_runs_in_a_kedro_pipeline(tmp_path: Path):
    """In a pipeline, a DataFrame goes in; a DataFrame, a number and a figure are saved out."""
    transactions = pd.DataFrame({"amount": [9.0, 310.0, 45.0, 700.0], "is_fraud": [0, 1, 0, 1]})
    catalog = DataCatalog(
        {
            "raw_transactions": MemoryDataset(transactions),
            "params:threshold": MemoryDataset(50.0),
            "fraud_by_label": ParquetDataset(filepath=str(tmp_path / "by_fraud.parquet")),
            "amounts_plot": MatplotlibDataset(filepath=str(tmp_path / "amounts.png")),
            "fraud_rate": MemoryDataset(),
        }
    )
    node = notebook_node(
        RECORDS_VALUES,
        inputs={"transactions": "raw_transactions"},
        parameters=["threshold"],
        outputs={
            "by_fraud": "fraud_by_label",
            "fraud_rate": "fraud_rate",
            "amounts_plot": "amounts_plot",
        },
        report_dir=tmp_path / "reports",
        html_copy=tmp_path / "model_report.html",
        hide_code=True,
    )

    SequentialRunner().run(Pipeline([node]), catalog)

    assert catalog.load("fraud_rate") == pytest.approx(0.5)
    expected = transactions.groupby("is_fraud", as_index=False).agg(
        n=("amount", "size"), mean_amount=("amount", "mean")
    )
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "by_fraud.parquet"), expected)
    assert (tmp_path / "amounts.png").read_bytes().startswith(b"\x89PNG")
    (run_dir,) = (tmp_path / "reports" / "records_values").iterdir()
    assert (tmp_path / "model_report.html").read_bytes() == (
        run_dir / "records_values.html"
    ).read_bytes()


@pytest.mark.slow
def test_missing_record_names_the_record_and_what_was_recorded(tmp_path: Path):
    """An output the notebook never recorded fails (exit 7) listing the records it made."""
    node = notebook_node(NOTEBOOKS / "no_parameters.ipynb", outputs=["pr_auc"], report_dir=tmp_path)
    with pytest.raises(MissingRecordError) as caught:
        node.run({})
    error = caught.value
    assert (error.record, error.recorded, error.exit_code) == ("pr_auc", ["executable"], 7)
    assert "no_parameters.ipynb did not record 'pr_auc'" in str(error)
    assert "'executable'" in str(error)
