"""``kedro`` commands added by lab2prod: thin click adapters over library functions.

Kedro loads this module for every command run inside a project, so it imports only click; each
command imports what it needs when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from kedro.framework.startup import ProjectMetadata
    from kedro.io import DataCatalog

_ENV_HELP = "Kedro configuration environment (default: the project's, usually 'local')."


@click.group(name="lab2prod")
def commands() -> None:
    """Commands lab2prod adds to ``kedro`` inside a project."""


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


def _catalog(metadata: ProjectMetadata, env: str | None) -> DataCatalog:
    from kedro.framework.session import KedroSession

    session = KedroSession.create(project_path=metadata.project_path, env=env)
    return session.load_context().catalog


def _load(catalog: DataCatalog, dataset: str) -> Any:
    from kedro.io import DatasetError

    if dataset not in catalog:
        raise click.ClickException(
            f"No dataset '{dataset}' in the catalog{_did_you_mean(dataset, list(catalog))}."
        )
    try:
        return catalog.get(dataset).load()
    except DatasetError as exc:
        raise click.ClickException(f"Cannot load '{dataset}': {exc}") from exc


def _did_you_mean(name: str, candidates: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, candidates, n=3)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
