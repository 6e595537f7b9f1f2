"""Errors raised by lab2prod.

The tree::

    Lab2ProdError                   every error lab2prod raises on purpose
     ├── ContractError              a data contract cannot be inferred, used or derived
     ├── RecordError                record() was given a value or name it cannot keep
     ├── ConversionError            a notebook cannot be converted into a pipeline safely
     │    └── GeneratedPipelineError  what was generated would break Kedro: a converter bug
     ├── TrackingError              a catalog entry asks MLflow tracking for what it cannot log
     ├── SettingError               an environment setting lab2prod reads has an unusable value
     ├── IntegrityError             a model file differs from the SHA-256 recorded when written
 ├── LineageError               a run manifest, model or bento cannot be traced or reproduced
     ├── ClusterError               a pipeline or a sweep cannot run on the Dask cluster
     │    ├── ClusterConfigError      dask.yml, the scheduler address or a node's tags are wrong
     │    ├── NotPortableError        a node or dataset cannot travel to the workers
     │    └── NodeLostError           a node's workers kept dying (memory?) until Dask gave up
     ├── LabRequestError            a JupyterLab request names no notebook of a Kedro project
     ├── MonitoringError            a reference profile, prediction log or drift check is unusable
     ├── ServingError               a model cannot be packaged, loaded or served
     │    ├── PackageError            not a model package, or a stored model lab2prod did not write
     │    │    └── ProvenanceError      a model to pack into a bento does not say where it came from
     │    ├── PipelineCompileError    an inference pipeline cannot be compiled for serving
     │    └── ModelMismatchError      a packaged model does not fit the code that serves it
     └── NotebookError              a notebook cannot be read or run   exit code, sweep status
          ├── NotebookReadError       missing, not JSON, or not nbformat 4  2  error
          ├── CellExecutionError      a cell raised an exception            3  failed-cell
          ├── KernelDiedError         the kernel died (os._exit, OOM...)    4  kernel-died
          ├── CellTimeoutError        a cell ran past the per-cell timeout  5  timeout
          ├── NotebookParameterError  a parameter or input it cannot take   6  error
          └── MissingRecordError      it did not record a declared output   7  error

The exit codes are for command-line tools (``kedro notebook run``): a CI job can tell a failing
cell from a dead kernel, a hang or a typo in a parameter name without reading the log. The
status and the one-line ``summary()`` are a sweep's row for a run the error stopped. Every
``NotebookError`` raised after the kernel started names the partially executed notebook that was
saved for debugging.

Each error says what failed, the offending value and the fix, and carries structured fields for
programs that handle it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import Self

    from lab2prod.notebook import Cell, Notebook


class Lab2ProdError(Exception):
    """Base class of every error lab2prod raises on purpose."""


class ContractError(Lab2ProdError, ValueError):
    """A data contract cannot be inferred from the data, or turned into a request model."""


class RecordError(Lab2ProdError, TypeError):
    """``record(name, value)`` was given a value of a type it cannot keep, or a bad name.

    Raised inside the notebook, so it shows as the failing cell's exception.
    """


class ConversionError(Lab2ProdError, ValueError):
    """A notebook holds code that ``kedro notebook convert`` cannot turn into a pipeline safely.

    Raised instead of writing code that would compute something else than the notebook: a star
    import, ``global``, ``exec``, a name read but defined only in a skipped cell, ...

    Attributes:
        notebook: The notebook's path, as the caller gave it.
        cell: The offending code cell's number among the notebook's code cells, from 1 (code
            cell 3 is the third code cell a person sees in JupyterLab); ``None`` when the
            problem is not in one cell.
        line: The offending line within that cell, from 1, or ``None``.
        construct: What cannot be converted, e.g. ``"star import"`` or ``"global"``.
    """

    def __init__(
        self,
        message: str,
        *,
        notebook: str,
        cell: int | None,
        line: int | None,
        construct: str,
    ) -> None:
        super().__init__(message)
        self.notebook = notebook
        self.cell = cell
        self.line = line
        self.construct = construct

    @classmethod
    def at(
        cls, notebook: Notebook, cell: Cell | None, line: int | None, construct: str, what: str
    ) -> Self:
        """The error for ``what`` in ``cell`` (and ``line``) of ``notebook``: its message starts
        with where the problem is (``notebooks/x.ipynb, code cell 3, line 2: ...``)."""
        where = f"{notebook.path}"
        if cell is not None:
            where += f", code cell {cell.code_number}"
            if line is not None:
                where += f", line {line}"
        return cls(
            f"{where}: {what}",
            notebook=str(notebook.path),
            cell=cell.code_number if cell is not None else None,
            line=line,
            construct=construct,
        )


class GeneratedPipelineError(ConversionError):
    """The generated pipeline, with the project's registered ones, fails Kedro's own checks.

    A bug in the converter, never the user's: the files are not written, so every ``kedro``
    command keeps working. The message carries Kedro's error.

    Attributes:
        kedro_error: Kedro's message (duplicate output, cycle, missing input, ...).
        pipelines: The registered pipelines involved besides the generated one.
    """

    def __init__(
        self, message: str, *, notebook: str, kedro_error: str, pipelines: tuple[str, ...] = ()
    ) -> None:
        super().__init__(
            message, notebook=notebook, cell=None, line=None, construct="generated pipeline"
        )
        self.kedro_error = kedro_error
        self.pipelines = pipelines


class TrackingError(Lab2ProdError, ValueError):
    """A catalog entry's ``metadata.lab2prod.mlflow`` asks for something lab2prod cannot log.

    Attributes:
        dataset: The catalog entry's name.
    """

    def __init__(self, message: str, *, dataset: str) -> None:
        super().__init__(message)
        self.dataset = dataset


class SettingError(Lab2ProdError, ValueError):
    """An environment variable lab2prod reads (``LAB2PROD_THREADS_PER_WORKER``) has a value it
    cannot use."""


class ClusterError(Lab2ProdError):
    """A pipeline or a notebook sweep cannot run on the Dask cluster."""


class ClusterConfigError(ClusterError, ValueError):
    """The cluster's configuration (``conf/<env>/dask.yml``, the scheduler address, a node's
    ``dask.*`` tags) asks for something that cannot work; raised before any node runs.

    Attributes:
        key: The offending setting or tag, e.g. ``"local_cluster.n_workers"`` or
            ``"dask.retries-x"``.
        node: The node whose tag is wrong, or ``None``.
    """

    def __init__(self, message: str, *, key: str, node: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.node = node


class NotPortableError(ClusterError, TypeError):
    """Nodes or datasets that cannot be sent to the cluster's worker processes (they cannot be
    pickled, or they are single-process datasets); raised before any node runs.

    Attributes:
        nodes: The names of the offending nodes.
        datasets: The names of the offending datasets.
    """

    def __init__(self, message: str, *, nodes: list[str], datasets: list[str]) -> None:
        super().__init__(message)
        self.nodes = nodes
        self.datasets = datasets


class NodeLostError(ClusterError, RuntimeError):
    """A node's worker died every time Dask ran it (out of memory, killed, crashed), until Dask
    gave up (``distributed.scheduler.allowed-failures``).

    Attributes:
        node: The node's name.
    """

    def __init__(self, message: str, *, node: str) -> None:
        super().__init__(message)
        self.node = node


class LineageError(Lab2ProdError, ValueError):
    """A run manifest cannot be found or read, or a model or bento names none.

    Attributes:
        run_id: The run (or tag) asked for.
    """

    def __init__(self, message: str, *, run_id: str | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id


class LabRequestError(Lab2ProdError, ValueError):
    """A request of the JupyterLab extension that lab2prod cannot serve: a path that is not a
    notebook under the Jupyter server's root, a notebook outside any Kedro project, a job that
    does not exist. The server answers it with a 4xx and this message."""


class MonitoringError(Lab2ProdError, ValueError):
    """A reference profile, a prediction log, labels or a drift check cannot be used as given.

    Attributes:
        column: The offending column, or ``None`` when the problem is not one column's.
    """

    def __init__(self, message: str, *, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column


class IntegrityError(Lab2ProdError, ValueError):
    """A model file does not match the SHA-256 digest recorded when it was written, or has none:
    it is refused before it is unpickled (unpickling runs whatever the file holds).

    Attributes:
        path: The file.
        expected: The digest recorded when it was written, or ``None`` when none was.
        actual: The file's digest now.
    """

    def __init__(self, message: str, *, path: str, expected: str | None, actual: str) -> None:
        super().__init__(message)
        self.path = path
        self.expected = expected
        self.actual = actual


class NotebookError(Lab2ProdError):
    """A notebook could not be read or run to completion.

    Each kind of failure says, on its class, how a command and a sweep report it: a new kind is
    one class here (and its test), nothing elsewhere.

    Attributes:
        notebook: The notebook's path, as the caller gave it.
        exit_code: The process exit code a command-line tool should use for this kind of failure.
        status: A sweep's status for a run this stopped (``summary.csv``'s ``status`` column).
    """

    exit_code: int = 1
    status: str = "error"

    def __init__(self, message: str, *, notebook: str) -> None:
        super().__init__(message)
        self.notebook = notebook

    def summary(self) -> str:
        """What went wrong in one line, without the traceback (a sweep's ``error`` column)."""
        return one_line(self)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields do not survive the default exception pickling, and Kedro's
        # ParallelRunner pickles a worker's exception back to the parent.
        return _restore_error, (type(self), self.args, self.__dict__)


class NotebookReadError(NotebookError):
    """The notebook file is missing, is not JSON, or is not in nbformat 4."""

    exit_code = 2


class NotebookParameterError(NotebookError, ValueError):
    """A parameter or input that the notebook cannot take; raised before any kernel starts.

    Attributes:
        names: The offending parameter or input names.
        declared: The names the notebook's ``parameters`` cell declares.
    """

    exit_code = 6

    def __init__(
        self,
        message: str,
        *,
        notebook: str,
        names: list[str],
        declared: list[str],
    ) -> None:
        super().__init__(message, notebook=notebook)
        self.names = names
        self.declared = declared


class _ExecutionFailure(NotebookError):
    """A failure after the kernel started: the partial notebook was saved."""

    def __init__(self, message: str, *, notebook: str, cell_index: int | None, saved: str) -> None:
        super().__init__(message, notebook=notebook)
        self.cell_index = cell_index
        self.saved = saved


class CellExecutionError(_ExecutionFailure):
    """A cell of the notebook raised an exception.

    Attributes:
        cell_index: The failing cell's number among the notebook's own code cells, from 1 (the
            cells lab2prod and papermill inject are not counted; markdown cells are not
            counted): code cell 3 is the third code cell a person sees in JupyterLab. ``None``
            when the failing cell is one of the injected cells.
        execution_count: The ``In [n]`` of the failing cell in the saved notebook.
        line: The source line of the failing cell that raised (stripped), or ``None`` when the
            traceback does not say.
        line_number: That line's number within the cell, from 1, or ``None``.
        ename: The exception's class name, e.g. ``ZeroDivisionError``.
        evalue: The exception's message.
        traceback: The traceback as plain text (colours removed).
        saved: Path of the partially executed notebook.
    """

    exit_code = 3
    status = "failed-cell"

    def __init__(
        self,
        message: str,
        *,
        notebook: str,
        cell_index: int | None,
        saved: str,
        execution_count: int | None,
        line: str | None,
        line_number: int | None,
        ename: str,
        evalue: str,
        traceback: str,
    ) -> None:
        super().__init__(message, notebook=notebook, cell_index=cell_index, saved=saved)
        self.execution_count = execution_count
        self.line = line
        self.line_number = line_number
        self.ename = ename
        self.evalue = evalue
        self.traceback = traceback

    def summary(self) -> str:
        where = _cell(self.cell_index, "an injected cell")
        if self.line_number is not None:
            where += f", line {self.line_number}"
        evalue = self.evalue.strip().splitlines()
        return f"{self.ename}: {evalue[0] if evalue else ''} ({where})"


class KernelDiedError(_ExecutionFailure, RuntimeError):
    """The kernel process died while a cell ran: ``os._exit``, a crash, the OOM killer.

    Attributes:
        cell_index: The code cell that was running (numbered as in ``CellExecutionError``).
        saved: Path of the partially executed notebook.
    """

    exit_code = 4
    status = "kernel-died"

    def summary(self) -> str:
        return f"the kernel died ({_cell(self.cell_index, 'before running any cell')})"


class CellTimeoutError(_ExecutionFailure, TimeoutError):
    """A cell ran longer than the per-cell timeout and was stopped.

    Attributes:
        cell_index: The code cell that timed out (numbered as in ``CellExecutionError``).
        timeout: The per-cell timeout, in seconds.
        saved: Path of the partially executed notebook.
    """

    exit_code = 5
    status = "timeout"

    def __init__(
        self,
        message: str,
        *,
        notebook: str,
        cell_index: int | None,
        saved: str,
        timeout: float,
    ) -> None:
        super().__init__(message, notebook=notebook, cell_index=cell_index, saved=saved)
        self.timeout = timeout

    def summary(self) -> str:
        where = _cell(self.cell_index, "an injected cell")
        if not self.timeout:
            return f"the output of {where} never arrived"
        return f"{where} ran past the {self.timeout:g} s per-cell timeout"


class MissingRecordError(NotebookError, KeyError):
    """The notebook ran but did not ``record()`` a value its node declares as an output.

    Attributes:
        record: The missing record's name.
        recorded: The names the notebook did record.
    """

    exit_code = 7

    def __init__(self, message: str, *, notebook: str, record: str, recorded: list[str]) -> None:
        super().__init__(message, notebook=notebook)
        self.record = record
        self.recorded = recorded

    def __str__(self) -> str:
        # KeyError quotes its message; this is a sentence, not a key.
        return str(self.args[0])


def did_you_mean(
    name: str,
    candidates: Iterable[str],
    *,
    n: int = 3,
    cutoff: float = 0.6,
    sentence: bool = False,
    code: bool = False,
) -> str:
    """The "did you mean" of a message about a mistyped name, or ``""`` when nothing is close.

    Every message says it the same way: ``did you mean 'transactions'?``, or ``did you mean
    'a' or 'b'?`` (``difflib``'s closest ``n``, best first); with ``sentence``, capitalized to
    start a sentence; with ``code``, the names in backticks, as conversion messages write every
    name of the notebook's code. The caller places it: ``f"{name!r} ({hint})"``, ``f"...; {hint}"``.
    """
    import difflib

    close = difflib.get_close_matches(name, list(candidates), n=n, cutoff=cutoff)
    if not close:
        return ""
    names = " or ".join(f"`{c}`" if code else repr(c) for c in close)
    hint = f"did you mean {names}?"
    return hint[0].upper() + hint[1:] if sentence else hint


def one_line(error: BaseException) -> str:
    """An error in one line: its class and the first line of its message."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def _cell(index: int | None, otherwise: str) -> str:
    return otherwise if index is None else f"code cell {index}"


def _restore_error(cls: type[NotebookError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class ServingError(Lab2ProdError):
    """A model cannot be packaged, loaded or served."""


class PackageError(ServingError, ValueError):
    """The data given to ``BentoModelDataset.save`` is not a model package, or a stored model is
    not a lab2prod package.

    Attributes:
        key: The offending key of the package, or ``None`` when the package as a whole is wrong.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class ProvenanceError(PackageError):
    """A model to pack into a bento has no provenance record, or one lacking required fields.

    Attributes:
        tag: The BentoML tag of the model.
        missing: The missing fields (``lab2prod.serving.provenance.REQUIRED_PROVENANCE``).
    """

    def __init__(self, message: str, *, tag: str, missing: list[str]) -> None:
        super().__init__(message, key="provenance")
        self.tag = tag
        self.missing = missing


class PipelineCompileError(ServingError, ValueError):
    """A Kedro pipeline cannot be compiled into a call sequence for serving.

    Attributes:
        missing: Free inputs of the pipeline that nothing provides.
        unknown: Names given as inputs or outputs that the pipeline does not have.
    """

    def __init__(
        self, message: str, *, missing: list[str] | None = None, unknown: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.missing = missing or []
        self.unknown = unknown or []


class ModelMismatchError(ServingError):
    """A packaged model does not fit the code serving it: the request it was trained for differs
    from the service's, or its pipeline is not the one the project registers.

    Attributes:
        tag: The BentoML tag of the model.
    """

    def __init__(self, message: str, *, tag: str) -> None:
        super().__init__(message)
        self.tag = tag
