"""Notebook sweeps on a Dask cluster: ``kedro notebook run NB --grid ... --cluster ADDRESS``.

:class:`ClusterExecutor` is the ``concurrent.futures`` executor the local sweep
(``lab2prod.execute.sweep``) submits its runs to in place of its thread pool: the same function
runs each grid point (papermill, statuses, failure classification), only on a Dask worker, whose
kernel is then the worker's own process. What the run wrote (executed notebook, HTML, records)
comes back with its result and is written into the sweep's output folder on this machine, so
the summary and the folder are exactly a local sweep's.

The worker runs the notebook from the client's path when it exists there (a local cluster, a
shared file system); otherwise from a copy of the notebook sent with the run, in a scratch
folder (then files the notebook reads by relative path must be in the worker's image).
"""

from __future__ import annotations

import concurrent.futures as cf
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab2prod.errors import ClusterConfigError

if TYPE_CHECKING:
    from lab2prod.execute.results import Run, RunResult

LOCAL = "local"
"""``--cluster local``: a ``LocalCluster`` of ``--workers`` processes on this machine."""


class ClusterExecutor(cf.Executor):
    """Runs sweep runs on the workers of a Dask cluster.

    Args:
        address: The scheduler's address, or ``"local"`` for a local cluster.
        local_workers: Worker processes of the local cluster.
        connect_timeout: Seconds to wait for the scheduler; default: Dask's
            ``distributed.comm.timeouts.connect``.

    Raises:
        ClusterConfigError: The scheduler does not answer.
    """

    def __init__(
        self, address: str, *, local_workers: int = 1, connect_timeout: float | None = None
    ):
        from distributed import Client, LocalCluster

        self._cluster = None
        self._token = uuid.uuid4().hex[:8]
        self._remote: list[Any] = []
        if address == LOCAL:
            self._cluster = LocalCluster(
                n_workers=local_workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
            self._client = Client(self._cluster)
            return
        if connect_timeout is None:
            import dask
            from dask.utils import parse_timedelta

            connect_timeout = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"))
        try:
            self._client = Client(address, timeout=connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise ClusterConfigError(
                f"Cannot reach the Dask scheduler at {address} within {connect_timeout:g} s "
                f"({type(exc).__name__}): check --cluster and that the scheduler is running, or "
                "use --cluster local for a cluster on this machine.",
                key="cluster",
            ) from exc

    @property
    def threads(self) -> int:
        """How many runs the cluster runs at once: its workers' threads."""
        workers = self._client.scheduler_info().get("workers", {}).values()
        return sum(worker.get("nthreads", 1) for worker in workers) or 1

    def kernel_environment(self, concurrent: int) -> dict[str, str]:
        """The native-thread environment of each run's kernel: on this machine's local cluster
        its share of the cores (as the local sweep gives), on a remote cluster one thread per
        worker thread (``LAB2PROD_THREADS_PER_WORKER`` overrides both)."""
        from lab2prod import threadpools

        if self._cluster is not None:
            return threadpools.worker_environment(concurrent)
        return threadpools.thread_environment(threadpools.threads_per_worker(1, cores=1))

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        """Run ``fn(path, run, output_dir, *rest)`` (the local sweep's run function) on a
        worker; the future's result is its ``RunResult``, its files written locally."""
        path, run, output_dir, *rest = args
        started = time.perf_counter()
        remote = self._client.submit(
            _run_on_worker,
            fn,
            str(path),
            Path(path).read_bytes(),
            run,
            *rest,
            key=f"sweep-{run.name}-{self._token}",
            pure=False,
        )
        self._remote.append(remote)
        local: cf.Future = cf.Future()

        def collect(done: Any) -> None:
            try:
                result, files = done.result()
                local.set_result(_collected(result, files, Path(output_dir)))
            except Exception as exc:
                # A lost worker or a run that could not come back is that run's failure, as a
                # local run's unexpected error is: the other runs go on.
                from lab2prod.execute.sweep import _failed

                notebook = Path(output_dir) / run.name / f"{Path(path).stem}.ipynb"
                local.set_result(_failed(run, exc, started, notebook))

        remote.add_done_callback(collect)
        return local

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            self._client.cancel([f for f in self._remote if not f.done()])
        self._remote.clear()
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def _run_on_worker(
    fn: Callable[..., RunResult], path: str, source: bytes, run: Run, *rest: Any
) -> tuple[RunResult, dict[str, bytes]]:
    """On the worker: the run in a scratch output folder; its result and every file it wrote."""
    notebook = Path(path)
    with tempfile.TemporaryDirectory(prefix="lab2prod-sweep-") as scratch:
        if not notebook.is_file():
            notebook = Path(scratch) / "notebook" / notebook.name
            notebook.parent.mkdir()
            notebook.write_bytes(source)
        output_dir = Path(scratch) / "runs"
        output_dir.mkdir()
        result = fn(notebook, run, output_dir, *rest)
        files = {
            file.relative_to(output_dir).as_posix(): file.read_bytes()
            for file in sorted((output_dir / run.name).rglob("*"))
            if file.is_file()
        }
        if result.notebook is not None:
            result = _replace_notebook(result, Path(result.notebook).relative_to(output_dir))
    return result, files


def _collected(result: RunResult, files: dict[str, bytes], output_dir: Path) -> RunResult:
    for relative, content in files.items():
        target = output_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    if result.notebook is not None:
        result = _replace_notebook(result, output_dir / result.notebook)
    return result


def _replace_notebook(result: RunResult, notebook: Path) -> RunResult:
    from dataclasses import replace

    return replace(result, notebook=notebook)
