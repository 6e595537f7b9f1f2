"""A sweep's summary: one row per run, as CSV and JSON files and as a table for a terminal.

``summary.json``::

    {"notebook": "notebooks/train.ipynb", "workers": 2, "duration_s": 9.8, "runs": [
      {"run": "x=1", "parameters": {"x": 1}, "status": "ok", "error": null,
       "duration_s": 2.31, "notebook": "x=1/train.ipynb",
       "records": {"square": 1}, "record_files": {"powers": "x=1/records/powers.json"}},
      ...]}

``summary.csv`` holds the same rows flattened as ``pandas.json_normalize(summary["runs"])``
would: ``run, parameters.<name>..., status, error, duration_s, notebook, records.<name>...,
record_files.<name>...``. A record that is a number, string, bool or None is a value; any other
record (a list, a dict, a DataFrame, a figure) is the path of its file. Paths are relative to
the summary's folder, so the folder can be moved or archived whole.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lab2prod.execute.results import OK, RunResult, format_value
from lab2prod.io import write_text_atomic

_CELL_WIDTH = 24


def rows(results: Sequence[RunResult], output_dir: Path) -> list[dict[str, Any]]:
    """The runs as summary rows (the ``runs`` of ``summary.json``).

    Args:
        results: The runs' results.
        output_dir: The folder paths are made relative to.
    """
    return [
        {
            "run": result.run.name,
            "parameters": result.run.parameters,
            "status": result.status,
            "error": result.error,
            "duration_s": round(result.duration, 3),
            "notebook": (
                None if result.notebook is None else _relative(result.notebook, output_dir)
            ),
            "records": result.records,
            "record_files": result.record_files,
        }
        for result in results
    ]


def write_summary(
    output_dir: Path,
    *,
    notebook: Path,
    results: Sequence[RunResult],
    workers: int,
    duration: float,
) -> tuple[Path, Path]:
    """Write ``summary.csv`` and ``summary.json`` into ``output_dir``, each atomically.

    Returns:
        The paths of the CSV and the JSON file.
    """
    runs = rows(results, output_dir)
    document = {
        "notebook": str(notebook),
        "workers": workers,
        "duration_s": round(duration, 3),
        "runs": runs,
    }
    json_path, csv_path = output_dir / "summary.json", output_dir / "summary.csv"
    write_text_atomic(json_path, json.dumps(document, indent=1) + "\n")
    write_text_atomic(csv_path, _csv(runs))
    return csv_path, json_path


def render_table(results: Sequence[RunResult]) -> str:
    """A plain-text table for a terminal: run, each scalar record, status and seconds.

    Parameters are left out (the run's name carries the ones that vary), and so are records
    kept as files; values longer than 24 characters are cut.
    """
    names = _columns(result.records for result in results)
    header = ["run", *names, "status", "seconds"]
    body = [
        [
            result.run.name,
            *(_cell(result.records[n]) if n in result.records else "" for n in names),
            result.status,
            f"{result.duration:.1f}",
        ]
        for result in results
    ]
    numeric = [
        all(
            isinstance(r.records.get(n), int | float) and not isinstance(r.records.get(n), bool)
            for r in results
            if n in r.records
        )
        for n in names
    ]
    right = [False, *numeric, False, True]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = []
    for row in [header, *body]:
        cells = [
            cell.rjust(width) if align else cell.ljust(width)
            for cell, width, align in zip(row, widths, right, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def render_records(result: RunResult, folder: str) -> str:
    """One run's outcome and every value it recorded, files as paths under ``folder``."""
    lines = [f"{result.run.name}: {result.status} in {result.duration:.1f} s"]
    lines += [f"  {name} = {format_value(value)}" for name, value in result.records.items()]
    lines += [f"  {name}: {folder}/{file}" for name, file in result.record_files.items()]
    return "\n".join(lines)


def render_failures(results: Sequence[RunResult]) -> str:
    """One line per failed run: its name, status and what went wrong."""
    failed = [result for result in results if result.status != OK]
    width = max((len(result.run.name) for result in failed), default=0)
    return "\n".join(
        f"  {result.run.name.ljust(width)}  {result.status}: {result.error}" for result in failed
    )


def _csv(runs: list[dict[str, Any]]) -> str:
    parameters = _columns(run["parameters"] for run in runs)
    records = _columns(run["records"] for run in runs)
    files = _columns(run["record_files"] for run in runs)
    header = [
        "run",
        *(f"parameters.{name}" for name in parameters),
        "status",
        "error",
        "duration_s",
        "notebook",
        *(f"records.{name}" for name in records),
        *(f"record_files.{name}" for name in files),
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for run in runs:
        writer.writerow(
            [
                run["run"],
                *(run["parameters"].get(name) for name in parameters),
                run["status"],
                run["error"],
                run["duration_s"],
                run["notebook"],
                *(run["records"].get(name) for name in records),
                *(run["record_files"].get(name) for name in files),
            ]
        )
    return buffer.getvalue()


def _columns(mappings: Any) -> list[str]:
    """Every key of ``mappings``, in order of first appearance."""
    return list(dict.fromkeys(key for mapping in mappings for key in mapping))


def _cell(value: Any) -> str:
    text = f"{value:.6g}" if isinstance(value, float) else format_value(value)
    text = text.replace("\n", " ")
    return text if len(text) <= _CELL_WIDTH else text[: _CELL_WIDTH - 1] + "…"


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
