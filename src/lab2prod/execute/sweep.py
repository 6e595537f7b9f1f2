"""Sweeps: one notebook run over a grid of parameter values, N runs at a time.

``kedro notebook run train.ipynb -p epochs=5 --grid lr=1e-3,1e-2 --grid depth=3,6`` is four
runs, the cartesian product of the grids (the first ``--grid`` varies slowest), each in a
folder of the output directory named for its grid values::

    <output dir>/lr=0.001,depth=3/train.ipynb   the executed notebook, train.html beside it
    <output dir>/lr=0.001,depth=3/records/      what it recorded, one file per value
    <output dir>/summary.csv, summary.json      one row per run (``summary.py``)

Every name and value is checked against the notebook's ``parameters`` cell before any kernel
starts. The runs go to a pool of threads: each kernel is its own process, and a thread only
drives one through papermill, so N workers run N kernels at once (measured in
``docs/benchmarks.md``). A run that fails becomes a row with its status; the others go on.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor, as_completed, wait
from pathlib import Path
from typing import Any

from lab2prod import threadpools
from lab2prod.errors import NotebookError, NotebookParameterError
from lab2prod.execute import summary, values
from lab2prod.execute.grid import expand_grid, parse_grid, parse_parameters
from lab2prod.execute.results import OK, Run, RunResult, SweepResult, is_scalar
from lab2prod.notebook import Notebook, check_declared, read_notebook

logger = logging.getLogger(__name__)

__all__ = ["RunResult", "SweepResult", "plan_sweep", "run_sweep"]


def plan_sweep(
    notebook: Notebook, *, parameter_options: Sequence[str], grid_options: Sequence[str]
) -> list[Run]:
    """Parse ``-p`` and ``--grid`` options into runs and check them against the notebook.

    Nothing starts: this is the check a command runs before any kernel.

    Args:
        notebook: The notebook, as read by ``read_notebook``.
        parameter_options: The ``-p key=value`` options as typed.
        grid_options: The ``--grid key=v1,v2`` options as typed.

    Returns:
        The runs (see ``expand_grid``).

    Raises:
        NotebookParameterError: An option cannot be read, or the notebook does not declare a
            name (all unknown names in one message, with "did you mean"), or has no
            ``parameters`` cell.
    """
    try:
        parameters = parse_parameters(parameter_options)
        grid = parse_grid(grid_options)
        runs = expand_grid(parameters, grid)
    except ValueError as exc:
        raise NotebookParameterError(
            f"{notebook.path}: {exc}",
            notebook=str(notebook.path),
            names=[],
            declared=list(notebook.parameters),
        ) from exc
    check_declared(notebook, [*parameters, *grid], kind="parameter")
    return runs


def run_sweep(
    path: str | Path,
    runs: Sequence[Run],
    *,
    output_dir: str | Path,
    workers: int = 1,
    timeout_per_cell: float | None = None,
    progress: bool = False,
    cluster: str | None = None,
) -> SweepResult:
    """Run the notebook once per run, ``workers`` at a time, and write the summary.

    Every run's parameters are checked before the first kernel starts. A run that fails does
    not stop the others: its row says how it failed.

    Args:
        path: The notebook.
        runs: The runs, e.g. from ``plan_sweep`` or ``expand_grid``.
        output_dir: Where each run gets its folder, and the summary its two files. It must be
            empty or not exist yet.
        workers: How many runs (kernels) at a time.
        timeout_per_cell: Seconds any one cell may run; ``None`` for no limit.
        progress: Show a progress bar (when stderr is a terminal) and a line per finished run
            on stderr.
        cluster: Run each run's kernel on a worker of this Dask cluster (a scheduler address,
            or ``"local"`` for a local cluster of ``workers`` processes) instead of ``workers``
            threads here; files and summary come back here (``lab2prod.runner.sweep``).

    Returns:
        The results, in the order of ``runs``, and the summary files' paths.

    Raises:
        NotebookReadError: The notebook cannot be read.
        NotebookParameterError: A run passes a parameter the notebook cannot take.
        FileExistsError: ``output_dir`` holds files already.
        ValueError: ``workers`` is below 1, there are no runs, or two runs share a name.
        ClusterConfigError: ``cluster`` does not answer.
    """
    from lab2prod.execute.runner import check_call

    started = time.perf_counter()
    path, output_dir = Path(path), Path(output_dir)
    notebook = read_notebook(path)
    for run in runs:
        check_call(notebook, parameters=run.parameters, inputs={})
    if workers < 1:
        raise ValueError(f"workers must be 1 or more, not {workers}")
    names = [run.name for run in runs]
    if not runs or len(set(names)) < len(names):
        raise ValueError(f"a sweep needs runs with distinct names, got {names}")
    if output_dir.exists() and any(output_dir.iterdir()):
        raise FileExistsError(
            f"{output_dir} is not empty; give the sweep a new or empty output directory."
        )
    output_dir.mkdir(parents=True, exist_ok=True)

    by_name, workers = _run_all(
        path, runs, output_dir, workers, timeout_per_cell, progress, cluster
    )
    results = [by_name[run.name] for run in runs]
    duration = time.perf_counter() - started
    csv_path, json_path = summary.write_summary(
        output_dir, notebook=path, results=results, workers=workers, duration=duration
    )
    return SweepResult(path, output_dir, results, csv_path, json_path, duration)


def _run_all(
    path: Path,
    runs: Sequence[Run],
    output_dir: Path,
    workers: int,
    timeout_per_cell: float | None,
    progress: bool,
    cluster: str | None = None,
) -> tuple[dict[str, RunResult], int]:
    """Every run's result by name, and how many ran at a time."""
    pool: Executor
    if cluster is None:
        concurrent = min(workers, len(runs))
        # N kernels at once, each sizing its OpenMP/BLAS pools to the whole machine, would fight
        # over the cores: each gets its share.
        kernel_env = threadpools.worker_environment(concurrent)
        pool = ThreadPoolExecutor(max_workers=concurrent, thread_name_prefix="sweep")
    else:
        from lab2prod.runner.sweep import ClusterExecutor

        pool = ClusterExecutor(cluster, local_workers=workers)
        workers = pool.threads
        kernel_env = pool.kernel_environment(min(workers, len(runs)))
    bar = _progress_bar(len(runs), path.stem) if progress else None
    results: dict[str, RunResult] = {}
    futures: list[Future[RunResult]] = []
    try:
        for run in runs:
            futures.append(
                pool.submit(_run_one, path, run, output_dir, timeout_per_cell, kernel_env)
            )
        for done, future in enumerate(as_completed(futures), start=1):
            result = future.result()
            results[result.run.name] = result
            if bar is not None:
                line = f"[{done}/{len(runs)}] {result.run.name}: {result.status} in "
                bar.write(f"{line}{result.duration:.1f} s", file=sys.stderr)
                bar.update()
    except KeyboardInterrupt:
        # Ctrl-C reaches this process only (kernels run in sessions of their own): start no
        # more runs, and kill the running kernels (also any still starting) until every run has
        # ended, or their cells would hold the sweep until they finish.
        pool.shutdown(wait=False, cancel_futures=True)
        while cluster is None and not all(future.done() for future in futures):
            kernel = sys.modules.get("lab2prod.execute.kernel")
            if kernel is not None:
                kernel.kill_kernels()
            wait(futures, timeout=0.5)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
    return results, workers


def _run_one(
    path: Path,
    run: Run,
    output_dir: Path,
    timeout_per_cell: float | None,
    kernel_env: dict[str, str],
) -> RunResult:
    """One run, in a worker thread; the thread's event loop is closed after it."""
    try:
        return _execute(path, run, output_dir, timeout_per_cell, kernel_env)
    finally:
        _close_event_loop()


def _execute(
    path: Path,
    run: Run,
    output_dir: Path,
    timeout_per_cell: float | None,
    kernel_env: dict[str, str],
) -> RunResult:
    from lab2prod.execute.runner import execute_notebook

    run_dir = output_dir / run.name
    started = time.perf_counter()
    try:
        executed = execute_notebook(
            path,
            parameters=run.parameters,
            run_dir=run_dir,
            keep_records=True,
            timeout_per_cell=timeout_per_cell,
            kernel_env=kernel_env,
        )
    except NotebookError as exc:
        return _failed(run, exc, started, run_dir / f"{path.stem}.ipynb")
    except Exception as exc:
        # Not re-raised, on purpose: one run's unexpected failure (a kernel that does not start
        # in time, a full disk) must not stop the other runs. Its traceback goes to the log.
        logger.error("Run %s of %s failed", run.name, path, exc_info=exc)
        return _failed(run, exc, started, run_dir / f"{path.stem}.ipynb")
    files = {}
    for file in (run_dir / "records").iterdir():
        named = values.split_name(file)
        if named is not None:
            files[named[0]] = file.relative_to(output_dir).as_posix()
    scalars = {k: v for k, v in executed.records.items() if is_scalar(v)}
    return RunResult(
        run,
        OK,
        records=scalars,
        record_files={name: files[name] for name in executed.records if name not in scalars},
        duration=time.perf_counter() - started,
        notebook=executed.notebook_path,
    )


def _failed(run: Run, error: BaseException, started: float, notebook: Path) -> RunResult:
    return RunResult.failed(
        run,
        error,
        duration=time.perf_counter() - started,
        notebook=notebook if notebook.exists() else None,
    )


def _close_event_loop() -> None:
    """Cancel what nbclient left pending on this thread's event loop, then close the loop.

    After a cell times out, nbclient leaves its output-polling task pending: the next run on
    this thread would resume it, and the thread's end would log "Task was destroyed but it is
    pending!". The next run gets a new loop (jupyter_core makes one when the last is closed).
    """
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:  # no loop was made: the run failed before papermill started
        return
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()
    asyncio.set_event_loop(None)


def _progress_bar(total: int, description: str) -> Any:
    from tqdm import tqdm

    # A bar only on a terminal; CI logs get the one line per run written above it.
    return tqdm(
        total=total,
        desc=description,
        unit="run",
        file=sys.stderr,
        disable=not sys.stderr.isatty(),
        leave=False,
    )
