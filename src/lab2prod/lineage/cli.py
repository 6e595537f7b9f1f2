"""``kedro run --cache``, ``kedro lineage`` and ``kedro reproduce``: thin click adapters.

``run`` is Kedro's own ``kedro run`` command with one more option: its parameters, help and
callback are Kedro's; ``--cache`` only puts the cache in front of the runner asked for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from kedro.framework.startup import ProjectMetadata

_CACHE_HELP = (
    "Skip nodes whose code, parameters and inputs are those of a recorded successful run "
    "whose outputs are still there; say for every other node why it runs (lab2prod)."
)


def _with_cache(command: click.Command) -> click.Command:
    """Kedro's ``run`` command, with ``--cache``."""

    def callback(cache: bool, **kwargs: Any) -> Any:
        from lab2prod.lineage.cache import is_caching, records_elsewhere

        inner = kwargs.get("runner") or "SequentialRunner"
        # Without --cache, a runner whose nodes run in other processes is wrapped only to record
        # them in the manifest (their hooks there cannot).
        if (cache and not is_caching(inner)) or (not cache and records_elsewhere(inner)):
            kwargs["runner"] = "lab2prod.lineage.cache.caching_runner"
            kwargs["runner_params"] = {
                **(kwargs.get("runner_params") or {}),
                "runner": inner,
                "cache": cache,
            }
        return command.callback(**kwargs)  # type: ignore[misc]

    option = click.Option(["--cache"], is_flag=True, default=False, help=_CACHE_HELP)
    return click.Command(
        name=command.name,
        params=[*command.params, option],
        callback=callback,
        help=command.help,
        short_help=command.short_help,
        context_settings=command.context_settings,
    )


def _kedro_run() -> click.Command:
    from kedro.framework.cli.project import run

    return run


run = _with_cache(_kedro_run())


@click.command()
@click.argument("tag")
@click.option("--json", "as_json", is_flag=True, help="Print the chain as JSON.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the chain as JSON to this file (Kedro's own log lines stay out of it).",
)
@click.pass_obj
def lineage(metadata: ProjectMetadata, tag: str, as_json: bool, output: Path | None) -> None:
    """Where TAG came from: a bento, a BentoML model (name:version) or a run id (or 'latest').

    Prints the chain bento -> model -> run manifest -> code commit and diff hash, lock,
    notebooks, parameters, and the datasets the model was made from with their versions and
    content fingerprints.
    """
    from lab2prod.errors import LineageError
    from lab2prod.lineage.trace import render_tree, trace

    try:
        found = trace(Path(metadata.project_path), tag)
    except LineageError as exc:
        raise click.ClickException(str(exc)) from exc
    if output is not None:
        from lab2prod.lineage.store import write_json

        write_json(output, found.as_dict())
    if as_json:
        click.echo(json.dumps(found.as_dict(), indent=2, default=str))
    elif output is None:
        click.echo(render_tree(found))


@click.command()
@click.argument("tag")
@click.option("--env", "-e", default=None, help="Configuration environment (default: the run's).")
@click.option(
    "--check-only", is_flag=True, help="Compare the project with the manifest; run nothing."
)
@click.option("--force", is_flag=True, help="Run again even though the project differs.")
@click.pass_obj
def reproduce(
    metadata: ProjectMetadata, tag: str, env: str | None, check_only: bool, force: bool
) -> None:
    """Check that code, lock, parameters and inputs match TAG's run, run it again, compare.

    TAG is a bento, a BentoML model or a run id. Nothing is checked out: check out the
    recorded commit first. Exit codes: 0 reproduced (the same model artifacts and metrics; for
    a run id, the same content of every output), or --check-only found nothing different; 1 the
    project differs from the run (each difference listed), or the new run's results differ.
    """
    from kedro.framework.session import KedroSession

    from lab2prod.errors import LineageError
    from lab2prod.lineage import store
    from lab2prod.lineage.reproduce import compare_runs, verify
    from lab2prod.lineage.trace import model_info, trace

    project_path = Path(metadata.project_path)
    try:
        found = trace(project_path, tag)
    except LineageError as exc:
        raise click.ClickException(str(exc)) from exc
    manifest = found.manifest
    params = manifest.get("run_params") or {}
    session = KedroSession.create(
        project_path=project_path,
        env=env or params.get("env"),
        runtime_params=params.get("runtime_params") or None,
    )
    context = session.load_context()
    differences = verify(project_path, manifest, context.params, context.catalog)
    click.echo(f"Run {manifest['run_id']} ({' '.join(manifest.get('command') or [])}):")
    for difference in differences:
        click.echo(difference.render())
    if not differences:
        click.echo("  code, lock, environment, notebooks, parameters and inputs match the run")
    if check_only or (differences and not force):
        session.close()
        if differences:
            raise click.ClickException(
                f"{len(differences)} difference(s) from the run: check out its commit "
                f"({(manifest.get('git') or {}).get('commit')}), restore the inputs named, or "
                "pass --force to run anyway."
            )
        return
    pipelines = [name for name in manifest.get("pipelines") or [] if name != "__default__"]
    with session:
        session.run(
            pipeline_names=pipelines or None,
            tags=params.get("tags") or None,
            node_names=params.get("node_names") or None,
            from_nodes=params.get("from_nodes") or None,
            to_nodes=params.get("to_nodes") or None,
            from_inputs=params.get("from_inputs") or None,
            to_outputs=params.get("to_outputs") or None,
            namespaces=params.get("namespaces") or None,
            load_versions=params.get("load_versions") or None,
        )
    new = store.read_manifest(project_path, session.session_id)
    new_model = None
    if found.target and found.model:
        written = ((new.get("datasets") or {}).get(found.target) or {}).get("fingerprint_written")
        if written and written.get("tag"):
            import bentoml

            new_model = model_info(bentoml.models.get(written["tag"]))
    mismatches, same = compare_runs(manifest, new, found.model, new_model)
    click.echo(f"Reproduced as run {new['run_id']}:")
    for line in same:
        click.echo(f"       same  {line}")
    for mismatch in mismatches:
        click.echo(mismatch.render())
    # With a model to compare, the verdict is the model's and its metrics' (a plot's bytes may
    # differ by a library's metadata); a run id alone is judged on every output.
    judged = [m for m in mismatches if m.what in ("model", "metric")] if new_model else mismatches
    if found.model and new_model is None:
        raise click.ClickException(f"The new run packaged no model as {found.target!r}.")
    if judged:
        raise SystemExit(1)


@click.group(name="dvc")
def dvc_group() -> None:
    """DVC: its pipeline file (dvc.yaml) generated from the Kedro pipelines."""


@dvc_group.command(name="sync")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if dvc.yaml is out of date.")
@click.option("--env", "-e", default=None, help="Configuration environment.")
@click.pass_obj
def dvc_sync(metadata: ProjectMetadata, check: bool, env: str | None) -> None:
    """Write dvc.yaml: one stage per registered pipeline (`kedro run --pipelines NAME`), its
    code files and input files as deps, the parameter keys it reads as params, its persisted
    outputs as outs. With --check (CI), exit 1 when the file differs from what the pipelines
    give now."""
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession

    from lab2prod.lineage import dvc
    from lab2prod.lineage.code import CodeScanner

    project_path = Path(metadata.project_path)
    with KedroSession.create(project_path=project_path, env=env) as session:
        catalog = session.load_context().catalog
    scanner = CodeScanner(package=metadata.package_name, source_dir=Path(metadata.source_dir))
    found = dvc.stages(
        project_path, dict(pipelines), catalog, dvc.parameters_files(project_path), scanner
    )
    in_step = dvc.sync(project_path, dvc.render(found), check=check)
    if in_step:
        click.echo(f"{dvc.DVC_FILE} is in step with the {len(found)} pipeline(s).")
    elif check:
        raise click.ClickException(
            f"{dvc.DVC_FILE} is out of date with the pipelines: run `kedro dvc sync` and commit it."
        )
    else:
        click.echo(
            f"Wrote {dvc.DVC_FILE}: {len(found)} stage(s) ({', '.join(s.name for s in found)})."
        )
