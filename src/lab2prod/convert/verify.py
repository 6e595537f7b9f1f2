"""``--verify``: prove the generated pipeline computes what the notebook computed.

The notebook runs in the project's kernel (``execute_notebook``) with a cell inserted after
each section that captures the section's datasets (``capture.capture``). The generated pipeline
runs in this process, node by node, on the inputs the project's catalog gives. Every dataset
of the plan's checks is compared with the notebook's variable at the end of the section that
produces it: DataFrames with ``assert_frame_equal``, arrays with ``allclose``, estimators by
their predictions on the data they were fitted on, other values with ``==``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab2prod.convert.capture import KINDS_RECORD, comparable
from lab2prod.convert.plan import Check, ConversionPlan
from lab2prod.convert.project import Generated, Project
from lab2prod.convert.registry import load_generated

VERIFY_TAG = "lab2prod-verify"
"""The tag of the cells ``--verify`` inserts into its copy of the notebook."""


@dataclass(frozen=True)
class Comparison:
    """One dataset compared.

    Attributes:
        node: The node that produces it (``None`` for a catalog read).
        dataset: The dataset.
        status: ``"ok"``, ``"mismatch"`` or ``"skipped"`` (a value that cannot be compared).
        detail: Why, for a mismatch or a skip.
    """

    node: str | None
    dataset: str
    status: str
    detail: str = ""


@dataclass(frozen=True)
class Verification:
    """The outcome of ``verify``.

    Attributes:
        notebook: The notebook, relative to the project root.
        comparisons: One per check, in notebook order.
        executed: The executed copy of the notebook.
    """

    notebook: str
    comparisons: tuple[Comparison, ...]
    executed: Path

    @property
    def mismatches(self) -> list[Comparison]:
        """The comparisons that failed."""
        return [c for c in self.comparisons if c.status == "mismatch"]

    def render(self) -> str:
        """One line per dataset, then a summary line."""
        lines = []
        for c in self.comparisons:
            where = f"{c.node or '(catalog)'} -> {c.dataset}"
            lines.append(f"  {c.status:<8}  {where}{': ' + c.detail if c.detail else ''}")
        counts = {s: sum(c.status == s for c in self.comparisons) for s in ("ok", "skipped")}
        summary = (
            f"{self.notebook}: {counts['ok']} datasets equal, {len(self.mismatches)} differ, "
            f"{counts['skipped']} not comparable."
        )
        return "\n".join([*lines, summary])


def verify(
    project: Project,
    generated: Generated,
    *,
    output_dir: Path,
    load: Callable[[str], Any] | None = None,
    timeout_per_cell: float | None = None,
) -> Verification:
    """Run the notebook and the pipeline on the same inputs and compare every checked dataset.

    Args:
        project: The project.
        generated: The conversion; its catalog file must be on disk if the pipeline reads
            new catalog entries (``kedro notebook convert`` writes before it verifies).
        output_dir: Where the executed notebook and its HTML are kept.
        load: Loads a pipeline input by dataset name (default: from the project's
            ``conf/``, see ``catalog_loader``).
        timeout_per_cell: Seconds any one notebook cell may run.

    Returns:
        The comparisons.

    Raises:
        NotebookError: The notebook failed to run (a cell raised, the kernel died, ...).
    """
    plan = generated.plan
    records, executed = _run_notebook(project, plan, output_dir, timeout_per_cell)
    values = run_pipeline(generated, load or catalog_loader(project))
    kinds = records.get(KINDS_RECORD, {})
    comparisons = []
    for number, check in enumerate(plan.checks):
        name = f"check_{number}"
        comparisons.append(_compare(check, kinds.get(name), records, name, values))
    return Verification(plan.notebook, tuple(comparisons), executed)


def run_pipeline(generated: Generated, load: Callable[[str], Any]) -> dict[str, Any]:
    """Run the generated pipeline node by node; every input and output, by dataset name."""
    pipeline = load_generated(generated)
    values: dict[str, Any] = {}
    for name in sorted(pipeline.inputs()):
        values[name] = load(name)
    for node in pipeline.nodes:  # in topological order
        values.update(node.run({name: values[name] for name in node.inputs}))
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:  # as the figures' dataset does once it saved them
            pyplot.close("all")
    return values


def catalog_loader(project: Project, env: str | None = None) -> Callable[[str], Any]:
    """A loader of datasets and ``params:`` from the project's ``conf/`` (base, then local).

    Relative file paths are taken from the project root, wherever the process runs.
    """
    from kedro.config import OmegaConfigLoader
    from kedro.io import DataCatalog

    config = OmegaConfigLoader(
        str(project.path / "conf"), env=env, base_env="base", default_run_env="local"
    )

    def load(name: str) -> Any:
        if name.startswith("params:"):
            value = config["parameters"]
            for key in name.removeprefix("params:").split("."):
                value = value[key]
            return value
        entry = dict(config["catalog"][name])
        filepath = entry.get("filepath")
        if filepath and "://" not in filepath and not os.path.isabs(filepath):
            entry["filepath"] = str(project.path / filepath)
        return DataCatalog.from_config({name: entry}).load(name)

    return load


def instrumented(plan: ConversionPlan, source: dict[str, Any]) -> dict[str, Any]:
    """A copy of the notebook's JSON with a capture cell after each section's last cell."""
    notebook = json.loads(json.dumps(source))
    by_cell: dict[int, list[tuple[int, Check]]] = {}
    for number, check in enumerate(plan.checks):
        by_cell.setdefault(check.after_cell, []).append((number, check))
    for index in sorted(by_cell, reverse=True):
        lines = ["from lab2prod.convert.capture import capture as _lab2prod_capture"]
        for number, check in by_cell[index]:
            fitted = f"lambda: {check.predict_on}" if check.predict_on else "None"
            lines.append(f"_lab2prod_capture('check_{number}', lambda: {check.variable}, {fitted})")
        cell = {
            "cell_type": "code",
            "metadata": {"tags": [VERIFY_TAG]},
            "source": "\n".join(lines),
            "outputs": [],
            "execution_count": None,
        }
        if notebook.get("nbformat_minor", 0) >= 5:
            cell["id"] = f"lab2prod-verify-{index}"
        notebook["cells"].insert(index + 1, cell)
    return notebook


def _run_notebook(
    project: Project, plan: ConversionPlan, output_dir: Path, timeout: float | None
) -> tuple[dict[str, Any], Path]:
    from lab2prod.execute.runner import execute_notebook

    source = project.path / plan.notebook
    copy = source.with_name(f".{source.stem}.lab2prod-verify.ipynb")
    data = instrumented(plan, json.loads(source.read_text(encoding="utf-8")))
    copy.write_text(json.dumps(data, indent=1), encoding="utf-8")
    try:
        result = execute_notebook(copy, output_dir=output_dir, timeout_per_cell=timeout)
    finally:
        copy.unlink(missing_ok=True)
    return result.records, result.notebook_path


def _compare(
    check: Check, kind: str | None, records: dict[str, Any], name: str, values: dict[str, Any]
) -> Comparison:
    def result(status: str, detail: str = "") -> Comparison:
        return Comparison(check.node, check.dataset, status, detail)

    if kind is None or name not in records:
        return result("skipped", kind or "the notebook did not reach this section")
    if check.dataset not in values:
        return result("mismatch", "the pipeline did not produce it")
    fitted_on = _from_form(records.get(f"{name}_on"))
    pipeline_kind, form = comparable(values[check.dataset], fitted_on)
    if pipeline_kind != kind:
        return result("mismatch", f"the notebook has a {kind}, the pipeline a {pipeline_kind}")
    try:
        _assert_same(kind, records[name], _round_trip(form))
    except AssertionError as exc:
        lines = [line for line in str(exc).strip().splitlines() if line.strip()]
        return result("mismatch", " ".join(lines[:4]))
    return result("ok")


def _assert_same(kind: str, notebook: Any, pipeline: Any) -> None:
    if kind in ("frame", "series"):
        import pandas as pd

        pd.testing.assert_frame_equal(pipeline, notebook)
    elif kind == "polars":
        from polars.testing import assert_frame_equal

        assert_frame_equal(pipeline, notebook)
    elif kind in ("array", "model"):
        import numpy as np

        key = "values" if kind == "array" else "predictions"
        if kind == "array" and notebook["shape"] != pipeline["shape"]:
            raise AssertionError(f"shape {pipeline['shape']} != {notebook['shape']}")
        left, right = np.asarray(pipeline[key]), np.asarray(notebook[key])
        if left.shape != right.shape:
            raise AssertionError(f"{len(left)} values != {len(right)}")
        numeric = left.dtype.kind in "biuf" and right.dtype.kind in "biuf"
        same = np.allclose(left, right, equal_nan=True) if numeric else (left == right).all()
        if not same:
            raise AssertionError(f"{int((left != right).sum())} of {left.size} values differ")
    elif notebook != pipeline:
        raise AssertionError(
            f"the pipeline gives {_short(pipeline)}, the notebook {_short(notebook)}"
        )


def _round_trip(form: Any) -> Any:
    """The form as the notebook's record of it reads back (parquet or JSON)."""
    from lab2prod.execute import values

    with tempfile.TemporaryDirectory(prefix="lab2prod-verify-") as scratch:
        return values.read_value(values.write_value(Path(scratch), "value", form))


def _from_form(form: Any) -> Any:
    """Data an estimator was fitted on, back from its recorded form."""
    if isinstance(form, dict) and "shape" in form:
        import numpy as np

        return np.asarray(form["values"]).reshape(form["shape"])
    return form


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
