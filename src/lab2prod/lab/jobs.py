"""Long actions of the JupyterLab extension as jobs: a worker process each, events, cancel.

A ``Job`` runs ``python -m lab2prod.lab.worker`` in the notebook's project and keeps every
event it reports (``worker.py`` lists them), plus the lines it writes to stderr (Kedro's log)
as ``log`` events. The front end polls ``events(since=n)``, which waits until there is
something new, so progress arrives as it happens without a busy loop. Cancelling closes the
worker's stdin and sends it SIGTERM (it stops the notebook's kernel and exits), then SIGKILL
if it is still there after a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab2prod.errors import LabRequestError

ACTIONS = ("convert", "verify", "run")
_KEPT = 50  # finished jobs kept for the front end to read back
_GRACE = 10.0  # seconds between SIGTERM and SIGKILL


@dataclass
class Job:
    """One action running, or run, in a worker process.

    Attributes:
        id: The job's id, in its URL.
        action: ``convert``, ``verify`` or ``run``.
        notebook: The notebook's path relative to the project root.
        project: The project root (the worker's working directory).
        state: ``running``, ``succeeded``, ``failed`` or ``cancelled``.
        events: What the worker reported, in order.
        result: The final ``result`` event, if the worker sent one.
        error: The final ``error`` event's message, or what ended the worker.
    """

    id: str
    action: str
    notebook: str
    project: Path
    state: str = "running"
    events: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: str | None = None
    _process: asyncio.subprocess.Process | None = None
    _follower: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _cancelled: bool = False

    def add(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if event.get("event") == "result":
            self.result = event
        elif event.get("event") == "error":
            self.error = str(event.get("message", ""))
        self._wake()

    def _wake(self) -> None:
        # Waiters hold the old event: set it, and give later waiters a fresh one.
        self._changed.set()
        self._changed = asyncio.Event()

    def view(self, since: int = 0) -> dict[str, Any]:
        """The job as JSON: its state, the events from ``since`` on, its result."""
        return {
            "id": self.id,
            "action": self.action,
            "notebook": self.notebook,
            "state": self.state,
            "events": self.events[since:],
            "next": len(self.events),
            "result": self.result,
            "error": self.error,
        }


class JobManager:
    """Starts, follows and cancels the jobs of one Jupyter server."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    async def start(self, action: str, project: Path, request: dict[str, Any]) -> Job:
        """Start a worker for ``action`` in ``project`` with ``request``.

        Raises:
            LabRequestError: ``action`` is not one of ``ACTIONS``.
        """
        if action not in ACTIONS:
            raise LabRequestError(f"unknown action {action!r}: one of {', '.join(ACTIONS)}.")
        job = Job(uuid.uuid4().hex, action, request["notebook"], project)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "lab2prod.lab.worker",
            cwd=project,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # a signal to the server's group does not reach it
            env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120"},
        )
        job._process = process
        assert process.stdin is not None
        process.stdin.write((json.dumps({"action": action, **request}) + "\n").encode())
        await process.stdin.drain()
        self._jobs[job.id] = job
        self._forget_old()
        job._follower = asyncio.ensure_future(self._follow(job))
        return job

    def get(self, job_id: str) -> Job:
        """The job of this id.

        Raises:
            LabRequestError: There is no such job (or it was forgotten).
        """
        try:
            return self._jobs[job_id]
        except KeyError:
            raise LabRequestError(f"no job {job_id!r} on this server.") from None

    async def events(self, job: Job, since: int, timeout: float) -> dict[str, Any]:
        """The job from event ``since`` on, waiting up to ``timeout`` s for news if none yet."""
        if len(job.events) <= since and job.state == "running":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(job._changed.wait(), timeout)
        return job.view(since)

    async def cancel(self, job: Job) -> None:
        """Stop the job's worker (and its kernel); nothing happens to a finished job."""
        process = job._process
        if job.state != "running" or process is None:
            return
        job._cancelled = True
        if process.stdin is not None:
            process.stdin.close()
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), _GRACE)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    async def _follow(self, job: Job) -> None:
        process = job._process
        assert process is not None and process.stdout is not None and process.stderr is not None
        await asyncio.gather(
            self._read(job, process.stdout, parse=True),
            self._read(job, process.stderr, parse=False),
        )
        code = await process.wait()
        if job._cancelled:
            job.state = "cancelled"
            job.error = job.error or "cancelled"
        elif job.result is not None and job.result.get("ok"):
            job.state = "succeeded"
        else:
            job.state = "failed"
            if job.result is None and job.error is None:
                job.error = f"the worker exited with {code} without a result; see its log"
        job._wake()

    async def _read(self, job: Job, stream: asyncio.StreamReader, *, parse: bool) -> None:
        async for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if parse:
                try:
                    event = json.loads(line)
                except ValueError:
                    event = {"event": "log", "text": line}
            else:
                event = {"event": "log", "text": line, "stream": "stderr"}
            job.add(event)

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.state != "running"]
        for job in finished[: max(0, len(finished) - _KEPT)]:
            del self._jobs[job.id]
