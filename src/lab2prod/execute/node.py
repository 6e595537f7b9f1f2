"""``notebook_node``: a notebook as a Kedro node, run by papermill on the project's kernel.

In a pipeline::

    notebook_node(
        "notebooks/report.ipynb",
        inputs={"scores": "model_scores"},            # notebook variable -> catalog dataset
        parameters={"threshold": "params:threshold",  # a catalog parameter ...
                    "title": "Fraud model"},          # ... or a literal value
        outputs={"pr_auc": "report_pr_auc",           # record() name -> catalog dataset
                 "pr_curve": "report_pr_curve"},
        html_copy="data/08_reporting/model_report.html",
    )

Every name given as an input or parameter must be declared in the notebook's ``parameters``
cell, which is checked when the node is built, so ``kedro run`` stops before any node runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab2prod.errors import MissingRecordError
from lab2prod.notebook import read_notebook

if TYPE_CHECKING:
    from kedro.pipeline import Node

_NODE_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def notebook_node(
    path: str | Path,
    *,
    inputs: Mapping[str, str] | Sequence[str] | None = None,
    outputs: Mapping[str, str] | Sequence[str] | None = None,
    parameters: Mapping[str, Any] | Sequence[str] | None = None,
    name: str | None = None,
    timeout_per_cell: float | None = None,
    hide_code: bool = False,
    report_dir: str | Path = "data/08_reporting/notebooks",
    html_copy: str | Path | None = None,
) -> Node:
    """A Kedro node that runs a notebook with papermill and returns what it recorded.

    Relative paths (``path``, ``report_dir``, ``html_copy``) are relative to the Kedro project
    root (found from the working directory upwards, as ``kedro`` does; the working directory
    itself outside a project), so a pipeline builds the same under ``kedro run`` and in a
    notebook opened from ``notebooks/``.

    Args:
        path: The notebook.
        inputs: Catalog datasets the notebook receives as variables: a mapping of notebook
            variable to dataset name, or a list of names used for both. DataFrames arrive as
            DataFrames (through parquet), other values through JSON.
        outputs: Records that become datasets: a mapping of ``record()`` name to dataset name,
            or a list of names used for both.
        parameters: Notebook parameters: a mapping of notebook variable to either a catalog
            parameter (a string ``"params:<key>"``, or ``"parameters"``) or a literal value
            (str, int, float, bool, None, or lists and dicts of them); or a list of keys, each
            read from ``"params:<key>"`` into the variable of the same name.
        name: The node's name (default: the notebook's stem).
        timeout_per_cell: Seconds any one cell may run; ``None`` for no limit.
        hide_code: Leave code out of the HTML rendering (outputs only).
        report_dir: Where each run keeps ``<stem>/<run id>/<stem>.ipynb`` and ``.html``.
        html_copy: Also copy each successful run's HTML here, e.g.
            ``"data/08_reporting/model_report.html"``.

    Returns:
        The node. Its function returns ``{record name: value}`` for the declared outputs.

    Raises:
        NotebookReadError: The notebook cannot be read.
        NotebookParameterError: The notebook's ``parameters`` cell does not declare an input or
            parameter name (with "did you mean"), or a literal parameter value cannot be passed.
        ValueError: A list entry is not a Python identifier (use the mapping form), a name
            is given both as an input and as a parameter, or the node has no inputs, no
            catalog parameters and no outputs (Kedro needs one of them).
    """
    from kedro.pipeline import node

    from lab2prod.execute.runner import check_call

    root = _project_root()
    path, report_dir = root / path, root / report_dir
    html_copy = None if html_copy is None else root / html_copy
    input_map = _as_mapping(inputs, "inputs")
    output_map = _as_mapping(outputs, "outputs")
    catalog_params, literals = _split_parameters(parameters)
    for variable in input_map:
        if variable in catalog_params or variable in literals:
            raise ValueError(f"{variable!r} is given both as an input and as a parameter.")
    check_call(
        read_notebook(path),
        parameters={**literals, **dict.fromkeys(catalog_params)},
        inputs=input_map,
    )
    if not (input_map or catalog_params or output_map):
        raise ValueError(
            f"notebook_node({str(path)!r}) has no inputs and no outputs, and Kedro needs one of "
            "them to place the node in the pipeline: give it the datasets it reads as inputs, "
            "or record() a value and declare it as an output."
        )
    run = NotebookRun(
        path,
        inputs=tuple(input_map),
        parameters=tuple(catalog_params),
        literals=literals,
        outputs=tuple(output_map),
        timeout_per_cell=timeout_per_cell,
        hide_code=hide_code,
        report_dir=report_dir,
        html_copy=html_copy,
    )
    return node(
        run,
        inputs={**input_map, **catalog_params} or None,
        outputs=dict(output_map) or None,
        name=name or _NODE_NAME_UNSAFE.sub("_", path.stem),
    )


class NotebookRun:
    """The function of a notebook node: runs the notebook, returns the declared records.

    Kedro calls it with one keyword argument per notebook variable fed from the catalog.
    """

    def __init__(
        self,
        path: Path,
        *,
        inputs: tuple[str, ...],
        parameters: tuple[str, ...],
        literals: dict[str, Any],
        outputs: tuple[str, ...],
        timeout_per_cell: float | None,
        hide_code: bool,
        report_dir: Path,
        html_copy: Path | None,
    ) -> None:
        self.path = path
        self.inputs = inputs
        self.parameters = parameters
        self.literals = literals
        self.outputs = outputs
        self.timeout_per_cell = timeout_per_cell
        self.hide_code = hide_code
        self.report_dir = report_dir
        self.html_copy = html_copy
        # Kedro names the function in its logs: "Running node: report: report.ipynb(...)".
        self.__name__ = path.name

    def __call__(self, **values: Any) -> dict[str, Any] | None:
        """Run the notebook on ``values`` (notebook variable -> value) and return its records.

        Raises:
            MissingRecordError: The notebook did not record a declared output.
            NotebookError: The run failed (see ``execute_notebook``).
        """
        from lab2prod.execute.runner import execute_notebook
        from lab2prod.io import write_bytes_atomic

        result = execute_notebook(
            self.path,
            parameters={
                **self.literals,
                **{name: values[name] for name in self.parameters},
            },
            inputs={name: values[name] for name in self.inputs},
            output_dir=self.report_dir,
            timeout_per_cell=self.timeout_per_cell,
            hide_code=self.hide_code,
        )
        if self.html_copy is not None:
            write_bytes_atomic(self.html_copy, result.html_path.read_bytes())
        missing = [name for name in self.outputs if name not in result.records]
        if missing:
            recorded = sorted(result.records)
            raise MissingRecordError(
                f"{self.path} did not record {missing[0]!r}, which its node declares as an "
                f"output; it recorded {', '.join(map(repr, recorded)) or 'nothing'}. Add "
                f"`record({missing[0]!r}, value)` to the notebook (from lab2prod import "
                f"record), or fix the output's name. The executed notebook is at "
                f"{result.notebook_path}.",
                notebook=str(self.path),
                record=missing[0],
                recorded=recorded,
            )
        if not self.outputs:
            return None
        return {name: result.records[name] for name in self.outputs}


def _as_mapping(names: Mapping[str, str] | Sequence[str] | None, what: str) -> dict[str, str]:
    if names is None:
        return {}
    if isinstance(names, str):
        names = [names]
    if isinstance(names, Mapping):
        return dict(names)
    for entry in names:
        if not entry.isidentifier():
            raise ValueError(
                f"{what} entry {entry!r} is not a Python identifier, so it cannot name a "
                f"notebook variable or record; use the mapping form, e.g. "
                f"{{'{_NODE_NAME_UNSAFE.sub('_', entry.replace('.', '_'))}': {entry!r}}}."
            )
    return {entry: entry for entry in names}


def _split_parameters(
    parameters: Mapping[str, Any] | Sequence[str] | None,
) -> tuple[dict[str, str], dict[str, Any]]:
    """``(variable -> catalog parameter, variable -> literal value)``."""
    if parameters is None:
        return {}, {}
    if isinstance(parameters, str):
        parameters = [parameters]
    if not isinstance(parameters, Mapping):
        keys = _as_mapping(parameters, "parameters")
        return {key: f"params:{key}" for key in keys}, {}
    from_catalog = {
        variable: value
        for variable, value in parameters.items()
        if isinstance(value, str) and (value.startswith("params:") or value == "parameters")
    }
    literals = {k: v for k, v in parameters.items() if k not in from_catalog}
    return from_catalog, literals


def _project_root() -> Path:
    """The Kedro project around the working directory, or the working directory itself."""
    from kedro.utils import find_kedro_project

    cwd = Path.cwd()
    return find_kedro_project(cwd) or cwd
