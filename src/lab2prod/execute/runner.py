"""Running a notebook with papermill on the project's kernel: checks, inputs, records, HTML.

``execute_notebook`` checks every parameter and input against the notebook's ``parameters``
cell before a kernel starts, writes the inputs as typed files, runs the notebook through
papermill with ``Lab2ProdEngine`` (see ``kernel.py``), and keeps, per run::

    <output_dir>/<notebook stem>/<run id>/<stem>.ipynb   the executed notebook (papermill
                                                         saves it cell by cell, so a failed or
                                                         killed run leaves the partial one)
    <output_dir>/<notebook stem>/<run id>/<stem>.html    its nbconvert rendering

The run id is a Kedro version timestamp; a sweep names the folder itself (``run_dir``) and may
keep the recorded values' files in ``<run dir>/records/`` (``keep_records``). A failure raises
the ``NotebookError`` subclass that says what happened (``failures.py``; exit codes in
``lab2prod.errors``). papermill, nbclient and nbconvert are imported only when a notebook runs.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab2prod.errors import NotebookError, NotebookParameterError
from lab2prod.execute import failures, values
from lab2prod.execute.record import read_records
from lab2prod.execute.render import render_html
from lab2prod.notebook import Notebook, check_declared, read_notebook

logger = logging.getLogger(__name__)

# After a cell's reply, nbclient waits this long for its last outputs; papermill's 4 s turns a
# busy machine into spurious "Timeout waiting for IOPub output" failures.
_IOPUB_TIMEOUT = 30


@dataclass(frozen=True)
class ExecutionResult:
    """One successful execution of a notebook.

    Attributes:
        source: The notebook that was run.
        run_id: The run's version timestamp, also the name of its folder.
        notebook_path: The executed notebook.
        html_path: Its HTML rendering.
        records: What the notebook recorded with ``record()``, by name.
        duration: Wall time of the whole execution, in seconds (kernel start, cells, HTML).
    """

    source: Path
    run_id: str
    notebook_path: Path
    html_path: Path
    records: dict[str, Any]
    duration: float


def execute_notebook(
    path: str | Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    output_dir: str | Path | None = None,
    run_dir: str | Path | None = None,
    keep_records: bool = False,
    timeout_per_cell: float | None = None,
    hide_code: bool = False,
    start_timeout: float = 60,
    kernel_env: Mapping[str, str] | None = None,
) -> ExecutionResult:
    """Run a notebook top to bottom in a fresh kernel of this environment.

    Args:
        path: The ``.ipynb`` file. The kernel runs in its folder, as in JupyterLab.
        parameters: Values for names the ``parameters`` cell declares: str, int, float, bool,
            None, and lists and dicts of them (papermill writes them as Python literals).
        inputs: In-memory values for names the ``parameters`` cell declares: pandas or polars
            DataFrames (passed as parquet) or JSON-able values (passed as JSON). They are
            assigned right after the parameters, by a cell tagged ``injected-inputs``.
        output_dir: Where each run gets a new folder, ``<stem>/<run id>/``.
        run_dir: Or the run's own folder, used as it is (created; it must not exist yet). Give
            ``output_dir`` or ``run_dir``, not both.
        keep_records: Keep what ``record()`` wrote, one file per value (JSON, parquet, PNG), in
            ``<run folder>/records/`` instead of a scratch folder deleted after the run.
        timeout_per_cell: Seconds any one cell may run (rounded up to whole seconds); ``None``
            for no limit.
        hide_code: Leave code out of the HTML (outputs only). The ``.ipynb`` keeps it.
        start_timeout: Seconds to wait for the kernel to start.
        kernel_env: Environment variables for the kernel, on top of this process's (a sweep's
            kernels get their share of the cores: ``lab2prod.threadpools``).

    Returns:
        The records, the paths of the executed notebook and its HTML, and the duration.

    Raises:
        NotebookReadError: The notebook cannot be read.
        NotebookParameterError: A parameter or input the notebook does not declare, or whose
            value cannot be passed (raised before any kernel starts; nothing is written).
        CellExecutionError: A cell raised.
        KernelDiedError: The kernel process died.
        CellTimeoutError: A cell ran longer than ``timeout_per_cell``.
        FileExistsError: ``run_dir`` exists.
        ValueError: ``timeout_per_cell`` is not positive, or not exactly one of ``output_dir``
            and ``run_dir`` is given.
    """
    started = time.perf_counter()
    path = Path(path)
    notebook = read_notebook(path)
    parameters, inputs = dict(parameters or {}), dict(inputs or {})
    check_call(notebook, parameters=parameters, inputs=inputs)
    if timeout_per_cell is not None and timeout_per_cell <= 0:
        raise ValueError(f"timeout_per_cell must be positive seconds, not {timeout_per_cell!r}")
    if output_dir is not None and run_dir is not None:
        raise ValueError("give execute_notebook output_dir or run_dir, not both")
    timeout = None if timeout_per_cell is None else math.ceil(timeout_per_cell)

    with tempfile.TemporaryDirectory(prefix="lab2prod-") as scratch:
        input_files = _write_inputs(notebook, inputs, Path(scratch) / "inputs")
        run_id, folder = _run_folder(output_dir, run_dir, path.stem)
        # Absolute: the kernel runs in the notebook's folder, not in ours.
        records_dir = ((folder if keep_records else Path(scratch)) / "records").resolve()
        records_dir.mkdir()
        executed = folder / f"{path.stem}.ipynb"
        html = folder / f"{path.stem}.html"
        failure, cause = _run(
            notebook,
            executed,
            parameters=parameters,
            cell=_injected_cell(records_dir, input_files),
            timeout=timeout,
            start_timeout=math.ceil(start_timeout),
            kernel_env=dict(kernel_env or {}),
        )
        render_html(executed, html, hide_code=hide_code)
        if failure is not None:
            raise failure from cause
        records = read_records(records_dir)

    duration = time.perf_counter() - started
    logger.info("Executed %s in %.1f s: %s", path, duration, executed)
    return ExecutionResult(path, run_id, executed, html, records, duration)


def check_call(
    notebook: Notebook, *, parameters: Mapping[str, Any], inputs: Mapping[str, Any]
) -> None:
    """Check parameters and inputs against the notebook, without starting anything.

    Args:
        notebook: The notebook, as read by ``read_notebook``.
        parameters: Parameter names to values (values are checked too).
        inputs: Input names (values are checked when written).

    Raises:
        NotebookParameterError: A name the notebook does not declare, a name given both as a
            parameter and an input, or a parameter value papermill cannot write.
    """
    both = sorted(set(parameters) & set(inputs))
    if both:
        raise NotebookParameterError(
            f"{notebook.path}: {', '.join(map(repr, both))} given both as a parameter and as an "
            "input; give each name once.",
            notebook=str(notebook.path),
            names=both,
            declared=list(notebook.parameters),
        )
    check_declared(notebook, parameters, kind="parameter")
    check_declared(notebook, inputs, kind="input")
    for name, value in parameters.items():
        bad = _unwritable(value)
        if bad is not None:
            raise NotebookParameterError(
                f"{notebook.path}: parameter {name!r} holds a value of type "
                f"{values.type_name(bad)}, which papermill cannot write into the notebook. "
                "Parameters are str, int, float, "
                "bool, None, and lists and dicts of them; pass data as an input instead.",
                notebook=str(notebook.path),
                names=[name],
                declared=list(notebook.parameters),
            )


def _run(
    notebook: Notebook,
    executed: Path,
    *,
    parameters: dict[str, Any],
    cell: str,
    timeout: int | None,
    start_timeout: int,
    kernel_env: dict[str, str],
) -> tuple[NotebookError | None, BaseException | None]:
    """Run papermill; return the classified failure and its cause, or ``(None, None)``."""
    import papermill
    from nbclient.exceptions import CellTimeoutError as NbclientTimeout
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    from lab2prod.execute.kernel import ENGINE_NAME, KERNEL_NAME, register_engine

    register_engine()
    source = notebook.path.resolve()
    try:
        papermill.execute_notebook(
            str(source),
            str(executed),
            parameters=parameters or None,
            engine_name=ENGINE_NAME,
            kernel_name=KERNEL_NAME,
            language="python",
            progress_bar=False,
            start_timeout=start_timeout,
            execution_timeout=timeout,
            iopub_timeout=_IOPUB_TIMEOUT,
            resources={"metadata": {"path": str(source.parent)}},
            lab2prod_cell=cell,
            kernel_env=kernel_env,
        )
    except PapermillExecutionError as exc:
        return failures.cell_failed(notebook.path, executed, exc), exc
    except NbclientTimeout as exc:
        return failures.timed_out(notebook.path, executed, timeout, exc), exc
    except DeadKernelError as exc:
        return failures.kernel_died(notebook.path, executed), exc
    except RuntimeError as exc:
        # jupyter_client reports a kernel that dies while starting with a bare RuntimeError.
        if "Kernel died" not in str(exc):
            raise
        return failures.kernel_died(notebook.path, executed, starting=True), exc
    return None, None


def _write_inputs(notebook: Notebook, inputs: dict[str, Any], directory: Path) -> dict[str, Path]:
    directory.mkdir()
    files = {}
    for name, value in inputs.items():
        try:
            files[name] = values.write_value(directory, name, value, figures=False)
        except values.UnsupportedValue as exc:
            raise NotebookParameterError(
                f"{notebook.path}: input {name!r} is of type {values.type_name(value)}, which "
                f"cannot be passed to a notebook ({exc}). Inputs are pandas or polars DataFrames "
                f"(passed as parquet) or {values.JSON_TYPES} (passed as JSON); convert it in "
                "a node before this one, or load it in the notebook.",
                notebook=str(notebook.path),
                names=[name],
                declared=list(notebook.parameters),
            ) from exc
    return files


def _injected_cell(records_dir: Path, input_files: dict[str, Path]) -> str:
    lines = [
        "# Injected by lab2prod: where record() writes, and the node's inputs.",
        "from lab2prod.execute import record as _lab2prod_record",
        "from lab2prod.execute import values as _lab2prod_values",
        f"_lab2prod_record.record_to({str(records_dir)!r})",
        *(
            f"{name} = _lab2prod_values.read_value({str(file)!r})"
            for name, file in input_files.items()
        ),
        "del _lab2prod_record, _lab2prod_values",
    ]
    return "\n".join(lines)


def _run_folder(
    output_dir: str | Path | None, run_dir: str | Path | None, stem: str
) -> tuple[str, Path]:
    """The run's id and folder (created): ``run_dir`` as given, or a new one in ``output_dir``."""
    if run_dir is not None:
        folder = Path(run_dir)
        folder.mkdir(parents=True)
        return folder.name, folder
    if output_dir is None:
        raise ValueError("give execute_notebook output_dir or run_dir")
    return _new_run_dir(Path(output_dir), stem)


def _new_run_dir(output_dir: Path, stem: str) -> tuple[str, Path]:
    from kedro.io.core import generate_timestamp

    while True:
        run_id = generate_timestamp()
        run_dir = output_dir / stem / run_id
        try:
            run_dir.mkdir(parents=True)
        except FileExistsError:  # two runs in the same millisecond
            time.sleep(0.001)
            continue
        return run_id, run_dir


def _unwritable(value: Any) -> Any:
    """The first part of ``value`` papermill cannot write as a Python literal, or ``None``."""
    if value is None or isinstance(value, str | bool | int | float):
        return None
    if isinstance(value, list):
        return next((bad for bad in map(_unwritable, value) if bad is not None), None)
    if isinstance(value, dict):
        for key, item in value.items():
            bad = key if not isinstance(key, str) else _unwritable(item)
            if bad is not None:
                return bad
        return None
    return value
