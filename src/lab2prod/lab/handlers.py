"""The REST routes of lab2prod's Jupyter server extension, all behind the server's own auth.

=======================================  ==============================================
route                                    does
=======================================  ==============================================
``POST   /lab2prod/plan``                the conversion plan of a notebook (``explain``)
``POST   /lab2prod/status``              whether its pipeline is in sync (``sync_state``)
``POST   /lab2prod/jobs``                start convert, verify or run (``jobs.py``)
``GET    /lab2prod/jobs/<id>?since=n``   the job's events from ``n`` on (waits for news)
``DELETE /lab2prod/jobs/<id>``           cancel it
``GET    /lab2prod/jobs/<id>/report``    the HTML of a run's executed notebook
=======================================  ==============================================

Requests name the notebook by its path under the server's root, as the contents API does, and
may carry its content as the editor holds it (``content``), so the panel follows unsaved edits.
Plans and states are computed on the server's thread pool: the event loop never waits on them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from lab2prod.errors import LabRequestError, NotebookError
from lab2prod.lab import NAMESPACE
from lab2prod.lab.jobs import JobManager
from lab2prod.lab.places import Place, locate

_WAIT = 20.0  # longest a GET of a job's events waits for news, in seconds


class _Handler(APIHandler):
    """JSON in and out; lab2prod's errors become a 400 with their message."""

    @property
    def jobs(self) -> JobManager:
        return self.settings["lab2prod_jobs"]

    def place(self, body: dict[str, Any]) -> Place:
        return locate(self.settings["lab2prod_root"], body.get("path"))

    def body(self) -> dict[str, Any]:
        body = self.get_json_body()
        if not isinstance(body, dict):
            raise LabRequestError("the request body must be a JSON object.")
        return body

    def reply(self, data: dict[str, Any], status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    def refuse(self, error: Exception, status: int = 400) -> None:
        self.reply({"message": str(error).strip().split("\n\n")[0]}, status)

    async def answer(
        self, compute: Callable[[dict[str, Any], Place, dict[str, Any] | None], dict[str, Any]]
    ) -> None:
        """Read ``{path, content?, ...}``, compute on the thread pool, reply with the JSON."""
        try:
            body = self.body()
            place = self.place(body)
            content = _content(body)
            result = await _in_thread(lambda: compute(body, place, content))
        except (LabRequestError, NotebookError) as exc:
            self.refuse(exc)
            return
        self.reply({**result, "project_dir": place.project_dir})


async def _in_thread(function: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    return await asyncio.get_running_loop().run_in_executor(None, function)


def _content(body: dict[str, Any]) -> dict[str, Any] | None:
    content = body.get("content")
    if content is not None and not isinstance(content, dict):
        raise LabRequestError("'content' must be the notebook's JSON (an object).")
    return content


class PlanHandler(_Handler):
    """``POST {path, pipeline?, content?}``: the plan ``kedro notebook convert`` would follow."""

    @web.authenticated
    async def post(self) -> None:
        await self.answer(_plan)


class StatusHandler(_Handler):
    """``POST {path, content?}``: in sync, stale, edited, or not converted yet."""

    @web.authenticated
    async def post(self) -> None:
        from lab2prod.convert.explain import sync_state

        await self.answer(
            lambda body, place, content: sync_state(place.project, place.notebook, content=content)
        )


def _plan(body: dict[str, Any], place: Place, content: dict[str, Any] | None) -> dict[str, Any]:
    from lab2prod.convert.explain import explain, notebook_parameters
    from lab2prod.notebook import parse_notebook, read_notebook

    pipeline = body.get("pipeline") or None
    if pipeline is not None and not isinstance(pipeline, str):
        raise LabRequestError("'pipeline' must be a string.")
    plan = explain(place.project, place.notebook, pipeline=pipeline, content=content)
    read = (
        read_notebook(place.notebook)
        if content is None
        else parse_notebook(content, place.notebook)
    )
    try:
        declared = notebook_parameters(read)
    except NotebookError:
        declared = []  # the plan's error already says the cell is not Python
    return {**plan, "declared_parameters": declared}


class JobsHandler(_Handler):
    """``POST {action, path, pipeline?, force?, parameters?}``: start a job; 202 with its id."""

    @web.authenticated
    async def post(self) -> None:
        try:
            body = self.body()
            place = self.place(body)
            request: dict[str, Any] = {"notebook": place.relative}
            action = body.get("action")
            if action in ("convert", "verify"):
                pipeline = body.get("pipeline")
                if not isinstance(pipeline, str) or not pipeline:
                    raise LabRequestError(f"{action} needs 'pipeline', the pipeline's name.")
                request.update(pipeline=pipeline, force=bool(body.get("force")))
            elif action == "run":
                parameters = body.get("parameters") or {}
                if not isinstance(parameters, dict) or not all(
                    isinstance(v, str) for v in parameters.values()
                ):
                    raise LabRequestError(
                        "'parameters' must map names to values as typed (strings), as "
                        "`kedro notebook run -p name=value` takes them."
                    )
                request["parameters"] = parameters
            job = await self.jobs.start(str(action), place.project.path, request)
        except LabRequestError as exc:
            self.refuse(exc)
            return
        self.reply({**job.view(), "project_dir": place.project_dir}, status=202)


class JobHandler(_Handler):
    """``GET ?since=n``: the job's events from ``n`` on; ``DELETE``: cancel it."""

    @web.authenticated
    async def get(self, job_id: str) -> None:
        try:
            job = self.jobs.get(job_id)
            since = int(self.get_query_argument("since", "0"))
        except (LabRequestError, ValueError) as exc:
            self.refuse(exc, 404 if isinstance(exc, LabRequestError) else 400)
            return
        self.reply(await self.jobs.events(job, since, _WAIT))

    @web.authenticated
    async def delete(self, job_id: str) -> None:
        try:
            job = self.jobs.get(job_id)
        except LabRequestError as exc:
            self.refuse(exc, 404)
            return
        await self.jobs.cancel(job)
        self.reply(job.view(len(job.events)))


class ReportHandler(JupyterHandler):
    """``GET``: the HTML nbconvert made of a run's executed notebook.

    Served sandboxed (a unique origin): scripts in the notebook's outputs run, but cannot call
    the Jupyter server with the user's credentials.
    """

    @property
    def content_security_policy(self) -> str:
        return super().content_security_policy + "; sandbox allow-scripts"

    @web.authenticated
    def get(self, job_id: str) -> None:
        manager: JobManager = self.settings["lab2prod_jobs"]
        try:
            job = manager.get(job_id)
        except LabRequestError as exc:
            raise web.HTTPError(404, str(exc)) from exc
        html = (job.result or {}).get("html")
        if job.action != "run" or not html:
            raise web.HTTPError(404, f"job {job_id} has no report")
        path = (job.project / html).resolve()
        if not path.is_relative_to(job.project.resolve()) or not path.is_file():
            raise web.HTTPError(404, f"the report of job {job_id} is gone")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(Path(path).read_bytes())


def setup_handlers(web_app: Any, *, root_dir: str) -> None:
    """Add lab2prod's routes to the Jupyter server's tornado application."""
    web_app.settings["lab2prod_jobs"] = JobManager()
    web_app.settings["lab2prod_root"] = root_dir
    base = url_path_join(web_app.settings["base_url"], NAMESPACE)
    job = r"/jobs/(?P<job_id>[0-9a-f]{32})"
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "plan"), PlanHandler),
            (url_path_join(base, "status"), StatusHandler),
            (url_path_join(base, "jobs"), JobsHandler),
            (base + job, JobHandler),
            (base + job + "/report", ReportHandler),
        ],
    )
