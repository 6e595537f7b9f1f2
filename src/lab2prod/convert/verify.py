"""``--verify``: prove the generated pipeline computes what the notebook computed.

The notebook runs in the project's kernel (``execute_notebook``) with a cell inserted after
each section that captures the section's datasets (``capture.capture``). The generated pipeline
runs in this process, node by node, on the inputs the project's catalog gives. Every dataset
of the plan's checks is compared with the notebook's variable at the end of the section that
produces it: DataFrames with ``assert_frame_equal``, arrays with ``allclose``, estimators by
their predictions on the data they were fitted on, other values with ``==``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab2prod.convert.assumptions import START, Finding, check_boundaries
from lab2prod.convert.capture import KINDS_RECORD, comparable
from lab2prod.convert.fingerprint import FINGERPRINTS_RECORD
from lab2prod.convert.plan import Check, ConversionPlan
from lab2prod.convert.project import Generated, Project
from lab2prod.convert.registry import load_generated

FAILED = "<failed>"
"""Where ``run_pipeline`` puts the error of the node that failed (the later ones do not run)."""
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
        findings: What the run did to variables that the plan did not assume.
        corrected: Changes in place that ``verify_and_correct`` gave to the plan:
            ``(unit, variable)``.
    """

    notebook: str
    comparisons: tuple[Comparison, ...]
    executed: Path
    findings: tuple[Finding, ...] = ()
    corrected: tuple[tuple[str, str], ...] = ()

    @property
    def mismatches(self) -> list[Comparison]:
        """The comparisons that failed."""
        return [c for c in self.comparisons if c.status == "mismatch"]

    @property
    def unseen(self) -> list[Finding]:
        """Changes the run showed that the plan does not follow (the pipeline may differ)."""
        return [f for f in self.findings if f.kind != "unknown"]

    @property
    def verified(self) -> bool:
        """Every dataset equal and every assumption of the plan checked on the run."""
        return not self.unproven and not self.mismatches

    @property
    def unproven(self) -> list[str]:
        """What the run could not check, or found different: one sentence each."""
        found = [f"dataset `{c.dataset}` differs: {c.detail}" for c in self.mismatches]
        found += [f.render() for f in self.findings]
        found += [
            f"dataset `{c.dataset}` not compared: {c.detail}"
            for c in self.comparisons
            if c.status == "skipped"
        ]
        return found

    def render(self) -> str:
        """One line per dataset, what the run showed that the plan missed, then a summary."""
        lines = []
        for c in self.comparisons:
            where = f"{c.node or '(catalog)'} -> {c.dataset}"
            lines.append(f"  {c.status:<8}  {where}{': ' + c.detail if c.detail else ''}")
        for unit, variable in self.corrected:
            lines.append(
                f"  corrected  section '{unit}' changes `{variable}` in place (seen in the "
                "run): its node outputs a new version"
            )
        for finding in self.findings:
            label = "unchecked" if finding.kind == "unknown" else "unseen"
            lines.append(f"  {label:<9}  {finding.render()}")
        counts = {s: sum(c.status == s for c in self.comparisons) for s in ("ok", "skipped")}
        summary = (
            f"{self.notebook}: {counts['ok']} datasets equal, {len(self.mismatches)} differ, "
            f"{counts['skipped']} not comparable."
        )
        if self.unseen:
            summary += (
                f" {len(self.unseen)} change(s) in the run that the pipeline does not follow."
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
    with contextlib.chdir(project.path):  # nodes run from the project root, as in `kedro run`
        values = run_pipeline(generated, load or catalog_loader(project))
    kinds = records.get(KINDS_RECORD, {})
    comparisons = []
    prints = records.get(FINGERPRINTS_RECORD, {})
    units = {boundary.after_cell: boundary.unit for boundary in plan.boundaries}
    for number, check in enumerate(plan.checks):
        name = f"check_{number}"
        comparison = _compare(check, kinds.get(name), records, name, values)
        taken = prints.get(units.get(check.after_cell, ""), {}).get(check.variable)
        if comparison.status == "skipped" and check.dataset in values and taken:
            comparison = _compare_fingerprints(comparison, taken, values[check.dataset])
        comparisons.append(comparison)
    findings = check_boundaries(plan, prints)
    return Verification(plan.notebook, tuple(comparisons), executed, tuple(findings))


def verify_and_correct(
    project: Project,
    generated: Generated,
    *,
    output_dir: Path,
    timeout_per_cell: float | None = None,
    rounds: int = 2,
) -> tuple[Generated, Verification]:
    """``verify``, and where the run shows changes in place the plan missed, convert again.

    A change the run shows in a section whose node reads the variable becomes a new version
    of it (the node copies it first and outputs it); the corrected conversion is written
    (``write_conversion``, so it is recorded) and verified again, on a new run.

    Returns:
        The conversion as last written, and its verification (``corrected`` lists what was
        given to the plan).

    Raises:
        NotebookError: The notebook failed to run.
        ConversionError, GeneratedPipelineError: The corrected conversion cannot be written.
    """
    from lab2prod.convert.project import generate
    from lab2prod.convert.registry import check_in_project
    from lab2prod.convert.sync import write_conversion

    outcome = verify(project, generated, output_dir=output_dir, timeout_per_cell=timeout_per_cell)
    corrected: set[tuple[str, str]] = set()
    for _ in range(rounds - 1):
        found = {(f.unit, f.variable) for f in outcome.findings if f.correctable}
        new = found - set(generated.plan.mutations)
        if not new:
            break
        corrected |= new
        plan = generated.plan
        generated = generate(
            project, plan.notebook, plan.pipeline, mutations={*plan.mutations, *new}
        )
        check_in_project(project, generated)
        write_conversion(project, generated)
        outcome = verify(
            project, generated, output_dir=output_dir, timeout_per_cell=timeout_per_cell
        )
    outcome = dataclasses.replace(outcome, corrected=tuple(sorted(corrected)))
    return generated, outcome


def run_pipeline(generated: Generated, load: Callable[[str], Any]) -> dict[str, Any]:
    """Run the generated pipeline node by node; every input and output, by dataset name."""
    pipeline = load_generated(generated)
    values: dict[str, Any] = {}
    for name in sorted(pipeline.inputs()):
        values[name] = load(name)
    for node in pipeline.nodes:  # in topological order
        try:
            values.update(node.run({name: values[name] for name in node.inputs}))
        except Exception as exc:  # a node's own error is a result of the run: reported
            values[FAILED] = f"node {node.name} raised {type(exc).__name__}: {exc}"
            break
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
    ends = {boundary.after_cell: boundary for boundary in plan.boundaries}
    starts: dict[int, str] = {}
    for before, boundary in itertools.pairwise(plan.boundaries):
        between = notebook["cells"][before.after_cell + 1 : boundary.first_cell]
        if any(cell.get("cell_type") == "code" for cell in between):  # skipped, parameters
            starts[boundary.first_cell - 1] = boundary.unit
    for index in sorted(set(by_cell) | set(ends) | set(starts), reverse=True):
        lines = ["from lab2prod.convert.capture import capture as _lab2prod_capture"]
        for number, check in by_cell.get(index, []):
            fitted = f"lambda: {check.predict_on}" if check.predict_on else "None"
            lines.append(f"_lab2prod_capture('check_{number}', lambda: {check.variable}, {fitted})")
        if index in ends:
            names = sorted({name for name, _, _ in ends[index].objects})
            lines.append(
                "from lab2prod.convert.fingerprint import fingerprint_variables as "
                "_lab2prod_fingerprint"
            )
            lines.append(f"_lab2prod_fingerprint({ends[index].unit!r}, {names!r}, globals())")
        if index in starts:
            unit = starts[index]
            names = sorted({n for b in plan.boundaries if b.unit == unit for n, _, _ in b.objects})
            lines.append(
                "from lab2prod.convert.fingerprint import fingerprint_variables as "
                "_lab2prod_fingerprint"
            )
            lines.append(f"_lab2prod_fingerprint({unit + START!r}, {names!r}, globals())")
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
        failed = values.get(FAILED)
        return result("mismatch", failed or "the pipeline did not produce it")
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


def _compare_fingerprints(comparison: Comparison, notebook: list[Any], value: Any) -> Comparison:
    """A value ``record()`` cannot carry, compared by its fingerprint (the digest of its
    pickle, or of its data): equal digests are equal values; different ones prove nothing,
    as two pickles of equal objects may differ."""
    from lab2prod.convert.fingerprint import fingerprint

    pipeline = fingerprint(value)
    if notebook[1] is None or pipeline is None or pipeline[1] is None:
        return comparison
    if notebook[1] == pipeline[1]:
        return dataclasses.replace(comparison, status="ok", detail="same fingerprint")
    detail = f"{comparison.detail}; fingerprints differ (equal objects may pickle differently)"
    return dataclasses.replace(comparison, detail=detail)


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
