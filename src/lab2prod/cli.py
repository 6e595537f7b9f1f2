"""``kedro`` commands added by lab2prod: thin click adapters over library functions.

``kedro monitor ...`` lives in ``lab2prod.monitoring.cli``; ``kedro run --cache``, ``kedro lineage``
and ``kedro reproduce`` in ``lab2prod.lineage.cli``.

Kedro loads this module for every command run inside a project, so it imports only click; each
command imports what it needs when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from lab2prod.lineage.cli import dvc_group, lineage, reproduce, run
from lab2prod.monitoring.cli import monitor

if TYPE_CHECKING:
    from kedro.framework.startup import ProjectMetadata
    from kedro.io import DataCatalog

_ENV_HELP = "Kedro configuration environment (default: the project's, usually 'local')."


@click.group(name="lab2prod")
def commands() -> None:
    """Commands lab2prod adds to ``kedro`` inside a project."""


commands.add_command(monitor)
commands.add_command(run)
commands.add_command(lineage)
commands.add_command(reproduce)
commands.add_command(dvc_group)


@commands.group()
def contract() -> None:
    """Data contracts: infer pandera models from data, check datasets against theirs."""


@contract.command()
@click.argument("dataset")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the module (default: src/<package>/contracts/<dataset>.py).",
)
@click.option("--class-name", default=None, help="Name of the model class (default: from DATASET).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.option("--env", "-e", default=None, help=_ENV_HELP)
@click.pass_obj
def infer(
    metadata: ProjectMetadata,
    dataset: str,
    output: Path | None,
    class_name: str | None,
    force: bool,
    env: str | None,
) -> None:
    """Write a pandera DataFrameModel module inferred from catalog dataset DATASET.

    The module states the observed types, nullability, ranges and categories; edit it, commit it
    and name it on the dataset's catalog entry with ``validator:``.
    """
    from lab2prod.contracts.infer import infer_contract, model_class_name
    from lab2prod.errors import ContractError
    from lab2prod.io import write_text_atomic

    project_path = Path(metadata.project_path)
    if output is None:
        module = dataset.split("@")[0].replace(".", "_")
        output = metadata.source_dir / metadata.package_name / "contracts" / f"{module}.py"
    output = output if output.is_absolute() else project_path / output
    if output.exists() and not force:
        raise click.ClickException(
            f"{_relative(output, project_path)} exists: pass --force to overwrite it, or "
            "--output to write elsewhere."
        )
    data = _load(_catalog(metadata, env), dataset)
    try:
        source = infer_contract(
            data, class_name=class_name or model_class_name(dataset), dataset_name=dataset
        )
    except ContractError as exc:
        raise click.ClickException(str(exc)) from exc
    write_text_atomic(output, source)
    name = class_name or model_class_name(dataset)
    click.echo(f"Wrote {_relative(output, project_path)}. Review it, then name it on the catalog")
    click.echo(f"entry of '{dataset}':  validator: <module>.{name}")


@contract.command()
@click.argument("datasets", nargs=-1)
@click.option("--env", "-e", default=None, help=_ENV_HELP)
@click.pass_obj
def check(metadata: ProjectMetadata, datasets: tuple[str, ...], env: str | None) -> None:
    """Validate DATASETS (default: every dataset with a validator) against their contracts.

    Exits 0 when all pass, 1 when any fails; failure cases are written under
    data/08_reporting/validation/.
    """
    from lab2prod.contracts.check import check_datasets

    project_path = Path(metadata.project_path)
    results = check_datasets(_catalog(metadata, env), list(datasets) or None, project_path)
    for result in results:
        click.echo(result.render())
    if not all(result.passed for result in results):
        raise SystemExit(1)


@commands.group()
def notebook() -> None:
    """Notebooks: run one, or sweep one over a grid of parameters, on the project's kernel."""


@notebook.command(name="run")
@click.argument("path", metavar="NOTEBOOK", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--param",
    "-p",
    "parameters",
    multiple=True,
    metavar="KEY=VALUE",
    help="A parameter for every run; repeat for more. VALUE is read as YAML reads a scalar: "
    "3, 0.5, 1e-3, true, null, or text.",
)
@click.option(
    "--grid",
    "-g",
    multiple=True,
    metavar="KEY=V1,V2,...",
    help="Values to sweep a parameter over; repeat for more keys: every combination runs.",
)
@click.option(
    "--workers",
    "-w",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="How many runs (kernels) at a time.",
)
@click.option(
    "--output-dir",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A new or empty folder for the runs and the summary "
    "(default: data/08_reporting/sweeps/<notebook>/<timestamp>/).",
)
@click.option(
    "--timeout-per-cell",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Stop any cell that runs longer; its run fails with status 'timeout'.",
)
@click.option(
    "--cluster",
    default=None,
    metavar="ADDRESS",
    help="Run each kernel on a worker of this Dask cluster (tcp://scheduler:8786), or 'local' "
    "for a local cluster of --workers processes. Files and summary come back here.",
)
@click.pass_obj
def run_notebook(
    metadata: ProjectMetadata,
    path: Path,
    parameters: tuple[str, ...],
    grid: tuple[str, ...],
    workers: int,
    output_dir: Path | None,
    timeout_per_cell: float | None,
    cluster: str | None,
) -> None:
    """Run NOTEBOOK once, or once per combination of --grid values, and summarise the runs.

    Each run keeps its executed notebook, HTML and records in a folder of the output directory;
    summary.csv and summary.json there hold one row per run. Parameters are checked against the
    notebook's parameters cell before any kernel starts.

    Exit codes: 0 every run succeeded; 3 a cell raised; 4 the kernel died; 5 a cell timed out;
    6 bad parameters; 2 the notebook cannot be read; 1 failures of mixed kinds, or another error.
    """
    from lab2prod.errors import ClusterError, NotebookError
    from lab2prod.execute.summary import render_failures, render_records, render_table
    from lab2prod.execute.sweep import plan_sweep, run_sweep
    from lab2prod.notebook import read_notebook

    project_path = Path(metadata.project_path)
    if output_dir is None:
        from kedro.io.core import generate_timestamp

        output_dir = project_path / "data" / "08_reporting" / "sweeps" / path.stem
        output_dir = output_dir / generate_timestamp()
    try:
        runs = plan_sweep(read_notebook(path), parameter_options=parameters, grid_options=grid)
        result = run_sweep(
            path,
            runs,
            output_dir=output_dir,
            workers=workers,
            timeout_per_cell=timeout_per_cell,
            progress=len(runs) > 1,
            cluster=cluster,
        )
    except ClusterError as exc:
        raise click.ClickException(str(exc)) from exc
    except NotebookError as exc:
        raise _exit_with(_first_paragraph(exc), exc.exit_code) from exc
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from exc

    where = _relative(result.output_dir, project_path)
    if len(result.results) == 1:
        (only,) = result.results
        if isinstance(only.exception, NotebookError):
            raise _exit_with(_first_paragraph(only.exception), only.exit_code)
        if only.exception is not None:
            raise _exit_with(f"{path}: {only.error}", only.exit_code)
        click.echo(render_records(only, where))
        click.echo(f"Executed notebook, HTML, records and summary in {where}/")
        return
    click.echo(render_table(result.results))
    click.echo(
        f"\n{len(result.results)} runs in {result.duration:.1f} s, "
        f"{'on the Dask cluster ' + cluster if cluster else f'{workers} at a time'}. "
        f"Executed notebooks and summary.csv, summary.json in {where}/"
    )
    if result.failed:
        raise _exit_with(
            f"{len(result.failed)} of {len(result.results)} runs failed:\n"
            f"{render_failures(result.results)}",
            result.exit_code,
        )


@notebook.command(name="convert")
@click.argument("path", metavar="NOTEBOOK", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--pipeline", "pipeline", required=True, metavar="NAME", help="The pipeline to write."
)
@click.option(
    "--verify",
    is_flag=True,
    help="Run the notebook and the pipeline on the same inputs and compare every dataset.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace generated files edited by hand (hand-written files are never replaced).",
)
@click.pass_obj
def convert(
    metadata: ProjectMetadata, path: Path, pipeline: str, verify: bool, force: bool
) -> None:
    """Convert NOTEBOOK into the pipeline NAME: nodes, wiring, catalog, parameters and a test.

    Each H2 section becomes a node; see docs/notebooks-to-pipelines.md for the rules. The same
    notebook always gives the same files, recorded in conf/base/notebooks.yml for `kedro
    notebook check`.

    Exit codes: 0 written (and, with --verify, every dataset equal); 1 the notebook cannot be
    converted safely, a file is refused, or --verify found datasets that differ; 2-7 the
    notebook failed to run under --verify (as for `kedro notebook run`).
    """
    from lab2prod.convert.project import generate
    from lab2prod.convert.registry import check_in_project
    from lab2prod.convert.sync import write_conversion
    from lab2prod.errors import ConversionError, NotebookError

    project = _project(metadata)
    try:
        generated = generate(project, path.resolve(), pipeline)
        check_in_project(project, generated)
        written = write_conversion(project, generated, force=force)
    except ConversionError as exc:
        raise click.ClickException(str(exc)) from exc
    except NotebookError as exc:
        raise _exit_with(_first_paragraph(exc), exc.exit_code) from exc
    plan = generated.plan
    for warning in plan.warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(f"Converted {plan.notebook} into the pipeline '{pipeline}':")
    for relative in generated.files:
        click.echo(f"  {'wrote    ' if relative in written else 'unchanged'}  {relative}")
    click.echo(f"Run it with `kedro run --pipeline {pipeline}`.")
    if verify:
        _verify(project, generated)
    elif plan.assumptions:
        shown = plan.assumptions[:5]
        more = len(plan.assumptions) - len(shown)
        click.echo(
            f"Not verified: {len(plan.assumptions)} assumption(s) unproven (recorded in "
            "conf/base/notebooks.yml); --verify checks them on a run of the notebook:"
        )
        for line in shown:
            click.echo(f"  {line}")
        if more:
            click.echo(f"  and {more} more")


def _verify(project: Any, generated: Any) -> None:
    from lab2prod.convert.sync import record_verification
    from lab2prod.convert.verify import verify_and_correct
    from lab2prod.errors import ConversionError, NotebookError

    click.echo(f"Verifying: running {generated.plan.notebook} and the pipeline...")
    try:
        generated, outcome = verify_and_correct(
            project, generated, output_dir=project.path / "data" / "08_reporting" / "verify"
        )
    except NotebookError as exc:
        raise _exit_with(_first_paragraph(exc), exc.exit_code) from exc
    except ConversionError as exc:
        raise click.ClickException(str(exc)) from exc
    record_verification(project, generated.plan.pipeline, unproven=outcome.unproven)
    click.echo(outcome.render())
    if outcome.corrected:
        click.echo(
            "Converted again with the changes the run showed (recorded in conf/base/notebooks.yml)."
        )
    if outcome.mismatches or outcome.unseen:
        raise SystemExit(1)


@notebook.command(name="check")
@click.pass_obj
def check_notebooks(metadata: ProjectMetadata) -> None:
    """Exit 1 if a converted pipeline is stale or was edited by hand, naming every such file.

    Regenerates, in memory, every pipeline recorded in conf/base/notebooks.yml and compares it
    with the files on disk; nothing is written. Run it in CI.
    """
    from lab2prod.convert.sync import LEDGER, check_conversions, read_ledger

    project = _project(metadata)
    recorded = read_ledger(project)
    problems = check_conversions(project)
    for problem in problems:
        click.echo(problem.render())
    if problems:
        click.echo(
            f"{len(problems)} file(s) out of sync with their notebooks. Convert the notebook "
            "again (`kedro notebook convert NOTEBOOK --pipeline NAME`), or move hand edits "
            "into the notebook."
        )
        raise SystemExit(1)
    click.echo(f"{len(recorded)} converted pipeline(s) in sync with their notebooks ({LEDGER}).")


def _project(metadata: ProjectMetadata) -> Any:
    from lab2prod.convert.project import Project

    root = Path(metadata.project_path)
    return Project(root, metadata.package_name, _relative(Path(metadata.source_dir), root))


def _close(name: str, candidates: Any) -> str:
    from lab2prod.errors import did_you_mean

    hint = did_you_mean(name, candidates)
    return f"; {hint}" if hint else ""


def _exit_with(message: str, exit_code: int) -> click.ClickException:
    error = click.ClickException(message)
    error.exit_code = exit_code
    return error


def _first_paragraph(error: BaseException) -> str:
    """The message without what follows its first blank line (a cell's traceback)."""
    return str(error).strip().split("\n\n")[0]


def _catalog(metadata: ProjectMetadata, env: str | None) -> DataCatalog:
    from kedro.framework.session import KedroSession

    session = KedroSession.create(project_path=metadata.project_path, env=env)
    return session.load_context().catalog


def _load(catalog: DataCatalog, dataset: str) -> Any:
    from kedro.io import DatasetError

    if dataset not in catalog:
        raise click.ClickException(
            f"No dataset '{dataset}' in the catalog{_close(dataset, catalog)}."
        )
    try:
        return catalog.get(dataset).load()
    except DatasetError as exc:
        raise click.ClickException(f"Cannot load '{dataset}': {exc}") from exc


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
