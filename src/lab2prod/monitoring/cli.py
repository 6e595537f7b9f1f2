"""``kedro monitor check``: the monitoring verdict as an exit code, for cron, Airflow and CI.

A thin click adapter over :mod:`lab2prod.monitoring.check`, the functions the ``monitoring``
pipeline runs. Kedro imports this module on every command: it imports only click at the top.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from kedro.framework.startup import ProjectMetadata


@click.group(name="monitor")
def monitor() -> None:
    """Monitoring: drift and decay of the packaged model against its reference profile."""


@monitor.command(name="check")
@click.option(
    "--transactions",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Check this file of scoring inputs (parquet or CSV) instead of the prediction log, "
    "scored here with the packaged model. A label column in it is used as the labels.",
)
@click.option(
    "--labels",
    "labels_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Labels (parquet or CSV with the id and label columns) instead of the catalog's.",
)
@click.option("--last", default=None, metavar="DURATION", help="Window: this long up to the end.")
@click.option("--start", default=None, metavar="TIME", help="Window: from this time (inclusive).")
@click.option("--end", default=None, metavar="TIME", help="Window: up to this time (exclusive).")
@click.option("--all-rows", is_flag=True, help="Window: every row, whatever the configured window.")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also write drift.csv, performance.csv and summary.json to this folder.",
)
@click.option("--env", "-e", default=None, help="Kedro configuration environment.")
@click.pass_obj
def check(
    metadata: ProjectMetadata,
    transactions: Path | None,
    labels_file: Path | None,
    last: str | None,
    start: str | None,
    end: str | None,
    all_rows: bool,
    output: Path | None,
    env: str | None,
) -> None:
    """Check the prediction log (or a file) against the packaged model's reference.

    Exit codes: 0 ok; 3 drift (a column drifted); 4 decay (a metric decayed, labels needed;
    drift may come with it); 1 the check could not run. One line of reason per drifted column
    and decayed metric.
    """
    from kedro.framework.session import KedroSession
    from kedro.io import DatasetError

    from lab2prod.errors import Lab2ProdError
    from lab2prod.monitoring import check as checks

    with KedroSession.create(project_path=metadata.project_path, env=env) as session:
        context = session.load_context()
        catalog = context.catalog
        settings = _settings(context.params)
        window = _window(settings["window"], last=last, start=start, end=end, all_rows=all_rows)
        try:
            package = catalog.load("packaged_model")
            reference = checks.as_reference(checks.reference_of_package(package))
            if transactions is not None:
                predictions, labels = _scored_file(
                    package, transactions, settings["labels"], window
                )
                window = window.model_copy(update={"same_model": False})
            else:
                predictions, labels = catalog.load("prediction_log"), _catalog_labels(catalog)
            if labels_file is not None:
                labels = _read_table(labels_file)
            counts = checks.count_window(reference, predictions, window)
            drift = checks.check_drift(reference, counts, settings["drift"])
            labelled = (
                checks.labelled_predictions(
                    reference, predictions, labels, counts, window, settings["labels"]
                )
                if labels is not None and reference.profile.score is not None
                else None
            )
            performance = (
                checks.check_performance(reference, labelled, settings["performance"])
                if labelled is not None
                else checks.check_performance(reference, _empty_labelled(), settings["performance"])
            )
            summary = checks.summarise(reference, counts, drift, performance)
        except (Lab2ProdError, DatasetError) as exc:
            raise click.ClickException(_first_line(exc)) from exc
    if output is not None:
        _write(output, drift, performance, summary)
    _report(summary)
    if summary["exit_code"]:
        raise SystemExit(summary["exit_code"])


def _settings(params: dict[str, Any]) -> dict[str, Any]:
    from lab2prod.monitoring.check import LabelParams, WindowParams
    from lab2prod.monitoring.drift import DriftParams
    from lab2prod.monitoring.performance import PerformanceParams

    raw = params.get("monitoring") or {}
    kinds = {
        "window": WindowParams,
        "drift": DriftParams,
        "labels": LabelParams,
        "performance": PerformanceParams,
    }
    try:
        # Kedro has already built the typed parameters its nodes declare; build the rest.
        return {
            key: value if isinstance(value := raw.get(key) or {}, kind) else kind(**value)
            for key, kind in kinds.items()
        }
    except ValueError as exc:
        raise click.ClickException(f"parameters 'monitoring' are invalid: {exc}") from exc


def _window(base: Any, *, last: str | None, start: str | None, end: str | None, all_rows: bool):
    if all_rows:
        if last or start or end:
            raise click.UsageError("--all-rows takes no --last, --start or --end")
        return base.model_copy(update={"last": None, "start": None, "end": None})
    update: dict[str, Any] = {}
    if last is not None:
        update.update(last=last, start=None)
    if start is not None:
        update.update(start=_time(start, "--start"), last=None)
    if end is not None:
        update["end"] = _time(end, "--end")
    if last is not None and start is not None:
        raise click.UsageError("Give --start or --last, not both")
    return base.model_copy(update=update)


def _time(value: str, option: str) -> Any:
    import pandas as pd

    try:
        return pd.Timestamp(value).to_pydatetime()
    except ValueError as exc:
        raise click.UsageError(f"{option} {value!r} is not a time (e.g. 2026-03-01)") from exc


def _read_table(path: Path) -> Any:
    import pandas as pd

    if path.suffix.lower() == ".csv":
        return pd.read_csv(path)
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise click.ClickException(
            f"{path}: not a parquet file ({exc}); give .parquet or .csv"
        ) from exc


def _scored_file(package: Any, path: Path, labels: Any, window: Any) -> tuple[Any, Any]:
    """The file's rows scored with the package, and its labels if it carries them."""
    import pandas as pd
    from kedro.framework.project import pipelines

    from lab2prod.monitoring.offline import score_requests

    requests = _read_table(path)
    if window.time_column in requests.columns:
        requests[window.time_column] = pd.to_datetime(requests[window.time_column])
    found = None
    if labels.label_column in requests.columns and labels.id_column in requests.columns:
        found = requests[[labels.id_column, labels.label_column]].copy()
        requests = requests.drop(columns=[labels.label_column])
        click.echo(f"Labels: {len(found):,} from {path.name} (column {labels.label_column!r}).")
    try:
        pipeline = pipelines[package.pipeline]
    except KeyError as exc:
        raise click.ClickException(
            f"Model {package.tag} runs the pipeline {package.pipeline!r}, which this project "
            "does not register"
        ) from exc
    return score_requests(package, requests, pipeline), found


def _catalog_labels(catalog: Any) -> Any:
    return catalog.load("labels") if "labels" in catalog else None


def _empty_labelled() -> Any:
    import pandas as pd

    return pd.DataFrame()


def _write(folder: Path, drift: Any, performance: Any, summary: dict[str, Any]) -> None:
    import json

    from lab2prod.io import write_text_atomic

    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / "drift.csv", drift.to_csv(index=False))
    write_text_atomic(folder / "performance.csv", performance.to_csv(index=False))
    write_text_atomic(folder / "summary.json", json.dumps(summary, indent=1))


def _report(summary: dict[str, Any]) -> None:
    window = summary["window"]
    click.echo(
        f"Model {summary['model']}; window {window['start']} to {window['end'] or 'the end'}: "
        f"{window['rows']:,} predictions, {window['labelled_rows']:,} with a label."
    )
    for reason in summary["reasons"]:
        click.echo(reason)
    verdict = summary["verdict"]
    if verdict == "ok":
        decay = "no metric decayed" if window["labelled_rows"] else "no labels to judge decay"
        click.echo(f"OK: no column drifted, {decay}.")
    else:
        click.echo(
            f"{verdict.upper()}: {len(summary['drifted'])} column(s) drifted, "
            f"{len(summary['decayed'])} metric(s) decayed."
        )


def _first_line(error: BaseException) -> str:
    return str(error).strip().split("\n\n")[0]
