"""One long action of the JupyterLab extension, in a process of its own: convert, verify, run.

The Jupyter server starts ``python -m lab2prod.lab.worker`` in the project's root, writes one
JSON request line to its stdin and reads JSON events from its stdout, one per line::

    {"event": "log", "text": "..."}                       what the command prints
    {"event": "stage", "text": "Running the notebook"}
    {"event": "progress", "done": 3, "total": 9, "text": "cell 3 of 9"}
    {"event": "result", "ok": true, ...}                  the last event of a finished action
    {"event": "error", "message": "...", "exit_code": 1}  the last event of a failed action

Each action is what the command line does, through the same library calls: Convert runs
``kedro notebook convert`` itself (the click command, in this process); Verify then calls
``convert.verify.verify`` as ``--verify`` does; Run plans and runs the notebook as ``kedro
notebook run -p ...`` does. Closing stdin (or SIGTERM) cancels: the notebook's kernel is
killed (kernels run in sessions of their own, so it would outlive this process) and the
process exits with 130.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

CANCELLED_EXIT = 130
_PROGRESS_EVERY = 0.5  # seconds between two looks at the notebook papermill is saving

Emit = Callable[..., None]


def main() -> int:
    """Read the request, run it, report it; the exit code is 0 when the action succeeded."""
    channel = sys.stdout
    lock = threading.Lock()

    def emit(event: str, **fields: Any) -> None:
        with lock:
            channel.write(json.dumps({"event": event, **fields}, default=str) + "\n")
            channel.flush()

    line = sys.stdin.readline()
    threading.Thread(target=_cancel_on_eof, args=(sys.stdin,), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: _cancel())
    sys.stdout = _LogStream(emit)  # what click and print() write becomes log events
    try:
        request = json.loads(line)
        action = _ACTIONS[request["action"]]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        emit("error", message=f"not a lab2prod worker request: {line[:200]!r} ({exc})")
        return 2
    return action(request, emit)


def convert(request: dict[str, Any], emit: Emit) -> int:
    """``kedro notebook convert NOTEBOOK --pipeline NAME [--force]``, as the command runs."""
    code = _convert(request, emit)
    if code == 0:
        emit("result", ok=True, **_converted(request["pipeline"]))
    return code


def verify(request: dict[str, Any], emit: Emit) -> int:
    """Convert, then ``--verify``: run notebook and pipeline, compare every dataset."""
    code = _convert(request, emit)
    if code != 0:
        return code
    from lab2prod.convert.project import Project, generate
    from lab2prod.convert.verify import verify as verify_conversion
    from lab2prod.errors import NotebookError

    project = Project.at(Path.cwd())
    generated = generate(project, request["notebook"], request["pipeline"])
    output_dir = project.path / "data" / "08_reporting" / "verify"
    emit("stage", text="Running the notebook, then the pipeline, on the same inputs")
    try:
        with _Progress(output_dir, emit):
            outcome = verify_conversion(project, generated, output_dir=output_dir)
    except NotebookError as exc:
        emit("error", message=_first_paragraph(exc), exit_code=exc.exit_code)
        return exc.exit_code
    emit("log", text=outcome.render())
    comparisons = [
        {
            "node": c.node,
            "dataset": c.dataset,
            "status": {"ok": "equal", "mismatch": "differs"}.get(c.status, "not comparable"),
            "detail": c.detail,
        }
        for c in outcome.comparisons
    ]
    emit(
        "result",
        ok=not outcome.mismatches,
        comparisons=comparisons,
        executed=_relative(outcome.executed, project.path),
        **_converted(request["pipeline"]),
    )
    return 1 if outcome.mismatches else 0


def run(request: dict[str, Any], emit: Emit) -> int:
    """``kedro notebook run NOTEBOOK -p name=value ...``: one run, its records and HTML."""
    from kedro.io.core import generate_timestamp

    from lab2prod.errors import NotebookError
    from lab2prod.execute.results import format_value
    from lab2prod.execute.sweep import plan_sweep, run_sweep
    from lab2prod.notebook import read_notebook

    path = Path(request["notebook"])
    options = [f"{name}={value}" for name, value in request.get("parameters", {}).items()]
    output_dir = Path("data", "08_reporting", "sweeps", path.stem, generate_timestamp())
    emit("stage", text=f"Running {path} with papermill {' '.join(options)}".rstrip())
    try:
        runs = plan_sweep(read_notebook(path), parameter_options=options, grid_options=())
        with _Progress(output_dir, emit):
            result = run_sweep(path, runs, output_dir=output_dir, workers=1)
    except NotebookError as exc:
        emit("error", message=_first_paragraph(exc), exit_code=exc.exit_code)
        return exc.exit_code
    (only,) = result.results
    executed = only.notebook
    html = executed.with_suffix(".html") if executed is not None else None
    emit(
        "result",
        ok=only.status == "ok",
        status=only.status,
        error=only.error,
        parameters={k: format_value(v) for k, v in only.run.parameters.items()},
        records={k: format_value(v) for k, v in only.records.items()},
        record_files={k: (output_dir / f).as_posix() for k, f in only.record_files.items()},
        executed=executed.as_posix() if executed is not None else None,
        html=html.as_posix() if html is not None and html.is_file() else None,
        duration=round(only.duration, 1),
    )
    return only.exit_code


_ACTIONS: dict[str, Callable[[dict[str, Any], Emit], int]] = {
    "convert": convert,
    "verify": verify,
    "run": run,
}
"""The actions a request may name."""


def _convert(request: dict[str, Any], emit: Emit) -> int:
    """Run ``kedro notebook convert`` (lab2prod's click command) in this process, as ``kedro``
    runs it in the project: bootstrapped, its output as log events, a refusal as an error."""
    import click
    from kedro.framework.startup import bootstrap_project

    from lab2prod.cli import commands

    emit("stage", text=f"Converting {request['notebook']} into '{request['pipeline']}'")
    args = ["notebook", "convert", request["notebook"], "--pipeline", request["pipeline"]]
    args += ["--force"] if request.get("force") else []
    try:
        commands.main(args, obj=bootstrap_project(Path.cwd()), standalone_mode=False)
    except click.ClickException as exc:
        emit("error", message=exc.format_message(), exit_code=exc.exit_code)
        return exc.exit_code
    return 0


def _converted(pipeline: str) -> dict[str, Any]:
    """The pipeline's generated files, as ``conf/base/notebooks.yml`` records them."""
    from lab2prod.convert.project import Project
    from lab2prod.convert.sync import read_ledger

    entry = read_ledger(Project.at(Path.cwd())).get(pipeline, {})
    return {"pipeline": pipeline, "files": sorted(entry.get("files", {}))}


class _Progress:
    """Reports the cells of the notebook papermill is running, from the copy it saves.

    papermill saves the executed notebook at every cell's start and end, with each cell's
    ``metadata.papermill.status``: the newest ``.ipynb`` under the output folder tells how far
    the run is, without reaching into the kernel.
    """

    def __init__(self, folder: Path, emit: Emit) -> None:
        self._folder = folder
        self._emit = emit
        self._stop = threading.Event()
        self._since = time.time()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> _Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        last: tuple[int, int] | None = None
        while not self._stop.wait(_PROGRESS_EVERY):
            seen = self._look()
            if seen is not None and seen != last:
                last = seen
                done, total = seen
                self._emit("progress", done=done, total=total, text=f"cell {done} of {total}")

    def _look(self) -> tuple[int, int] | None:
        newest = None
        for path in self._folder.rglob("*.ipynb") if self._folder.is_dir() else []:
            mtime = path.stat().st_mtime
            if mtime >= self._since and (newest is None or mtime > newest[0]):
                newest = (mtime, path)
        if newest is None:
            return None
        try:
            cells = json.loads(newest[1].read_text(encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError):
            return None  # caught mid-write: look again at the next tick
        code = [c for c in cells if c.get("cell_type") == "code"]
        done = sum(
            c.get("metadata", {}).get("papermill", {}).get("status") == "completed" for c in code
        )
        return done, len(code)


class _LogStream:
    """A text stream whose every line becomes a ``log`` event."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._emit("log", text=line)
        return len(text)

    def flush(self) -> None:
        """Lines are sent as they end; nothing is held but an unfinished line."""

    def isatty(self) -> bool:
        return False


def _cancel_on_eof(stream: IO[str]) -> None:
    """The server closes our stdin to cancel, and its death closes it too: stop then."""
    while stream.readline():
        pass
    _cancel()


def _cancel() -> None:
    kernel = sys.modules.get("lab2prod.execute.kernel")
    if kernel is not None:  # else no notebook ran here: no kernel to stop
        kernel.kill_kernels()
    os._exit(CANCELLED_EXIT)


def _first_paragraph(error: BaseException) -> str:
    from lab2prod.cli import _first_paragraph

    return _first_paragraph(error)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
