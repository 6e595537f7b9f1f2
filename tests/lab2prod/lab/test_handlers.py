"""lab2prod's Jupyter server extension over REST, on a real Jupyter server on 127.0.0.1."""

from __future__ import annotations

import shutil
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT
from tests.lab2prod.convert.conftest import make_corpus_project
from tests.lab2prod.lab.jupyter import Server, jupyter

NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
JOB = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's root: the corpus project (with two execution fixtures) and a plain folder."""
    root = tmp_path_factory.mktemp("jupyter-root")
    project = make_corpus_project(root / "project")
    for name in ("sweep_square", "hangs"):
        shutil.copy(NOTEBOOKS / f"{name}.ipynb", project / "notebooks")
    (root / "loose").mkdir()
    shutil.copy(NOTEBOOKS / "sweep_square.ipynb", root / "loose")
    return root


@pytest.fixture(scope="module")
def server(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real `jupyter server` with lab2prod's extension enabled the way the wheel does."""
    with jupyter(root, tmp_path_factory.mktemp("jupyter-home"), python=Path(sys.executable)) as s:
        yield s


def call(server: Server, method: str, route: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(
        method, f"{server.url}/lab2prod/{route}", headers=server.headers, timeout=60, **kwargs
    )


def start(server: Server, action: str, path: str, **fields: Any) -> dict[str, Any]:
    """Start a job; the server answers 202 with it."""
    response = call(server, "POST", "jobs", json={"action": action, "path": path, **fields})
    assert response.status_code == 202, response.text
    return response.json()


def follow(server: Server, job: dict[str, Any], timeout: float = 240) -> dict[str, Any]:
    """The job's events until it ends (each GET waits on the server for news)."""
    events = list(job["events"])
    deadline = time.monotonic() + timeout
    while job["state"] == "running":
        assert time.monotonic() < deadline, f"job still running after {timeout} s: {events[-5:]}"
        job = call(server, "GET", f"jobs/{job['id']}?since={len(events)}").json()
        events += job["events"]
    return {**job, "events": events}


ROUTES = [
    ("POST", "plan"),
    ("POST", "status"),
    ("POST", "jobs"),
    ("GET", f"jobs/{JOB}"),
    ("DELETE", f"jobs/{JOB}"),
    ("GET", f"jobs/{JOB}/report"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_every_route_needs_the_servers_token(server: Server, method: str, route: str):
    """Without the token the server refuses (403, or a redirect to its login page)."""
    response = httpx.request(
        method, f"{server.url}/lab2prod/{route}", json={}, follow_redirects=False, timeout=30
    )
    assert response.status_code in (302, 403), response.text


def test_no_route_is_left_unauthenticated():
    """Jupyter warns about a handler without an auth decorator; lab2prod's have none."""
    from jupyter_server.serverapp import ServerApp
    from jupyter_server.utils import JupyterServerAuthWarning

    app = ServerApp(
        allow_unauthenticated_access=False,
        jpserver_extensions={"lab2prod.lab": True},
        reraise_server_extension_failures=True,
    )
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        app.initialize(argv=[], find_extensions=False, new_httpserver=False)
    assert not [r for r in records if issubclass(r.category, JupyterServerAuthWarning)]
    assert any("/lab2prod/" in str(rule.matcher.regex.pattern) for rule in _rules(app))


def _rules(app: Any) -> list[Any]:
    found = []
    for rule in app.web_app.default_router.rules:
        found += getattr(rule.target, "rules", [])
    return found


@pytest.mark.slow
def test_plan_and_status_of_a_notebook(server: Server):
    """The panel's two questions: what will this notebook become, and is it in sync."""
    plan = call(server, "POST", "plan", json={"path": "project/notebooks/loops.ipynb"}).json()
    assert plan["pipeline"] == "loops"
    assert plan["project_dir"] == "project"
    assert plan["error"] is None
    assert [n["name"] for n in plan["nodes"]]
    assert isinstance(plan["declared_parameters"], list)
    state = call(server, "POST", "status", json={"path": "project/notebooks/loops.ipynb"})
    assert state.json()["state"] == "not-converted"


BAD_REQUESTS = [
    ("plan", {"path": "project/notes.txt"}, "must be a notebook's path"),
    ("plan", {"path": "../outside.ipynb"}, "outside the Jupyter server's root"),
    ("plan", {"path": "loose/sweep_square.ipynb"}, "is not in a Kedro project"),
    ("plan", {"path": "project/notebooks/missing.ipynb"}, "does not exist"),
    ("plan", {"path": "project/notebooks/loops.ipynb", "content": "x"}, "'content' must be"),
    ("plan", {"path": "project/notebooks/loops.ipynb", "pipeline": 3}, "'pipeline' must be"),
    ("status", [], "must be a JSON object"),
    ("jobs", {"path": "project/notebooks/loops.ipynb", "action": "deploy"}, "unknown action"),
    ("jobs", {"path": "project/notebooks/loops.ipynb", "action": "convert"}, "needs 'pipeline'"),
    (
        "jobs",
        {"path": "project/notebooks/sweep_square.ipynb", "action": "run", "parameters": {"x": 3}},
        "'parameters' must map names to values as typed",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("route", "body", "message"), BAD_REQUESTS)
def test_bad_requests_get_a_400_naming_the_problem(
    server: Server, route: str, body: Any, message: str
):
    """Bad input is a 400 with one sentence, never a traceback."""
    response = call(server, "POST", route, json=body)
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
    assert "Traceback" not in response.text


@pytest.mark.slow
def test_an_unknown_job_is_a_404(server: Server):
    """A job id the server never gave out."""
    response = call(server, "GET", f"jobs/{JOB}")
    assert response.status_code == 404
    assert "no job" in response.json()["message"]


@pytest.mark.slow
def test_convert_job_writes_the_pipeline_as_the_cli_does(server: Server, root: Path):
    """Convert reports the CLI's lines and the files recorded; then the notebook is in sync."""
    path = "project/notebooks/no_headings.ipynb"
    done = follow(server, start(server, "convert", path, pipeline="spend"))
    assert done["state"] == "succeeded", done
    log = [e["text"] for e in done["events"] if e["event"] == "log"]
    assert "Converted notebooks/no_headings.ipynb into the pipeline 'spend':" in log
    assert "src/corpus/pipelines/spend/nodes.py" in done["result"]["files"]
    assert (root / "project" / "src/corpus/pipelines/spend/nodes.py").is_file()
    state = call(server, "POST", "status", json={"path": path}).json()
    assert state["state"] == "in-sync"


@pytest.mark.slow
def test_a_refused_conversion_fails_the_job_with_the_cli_message(server: Server, root: Path):
    """The converter's one-line refusal, and nothing written."""
    job = start(server, "convert", "project/notebooks/exec_call.ipynb", pipeline="bad")
    done = follow(server, job)
    assert done["state"] == "failed"
    assert "code cell 1, line 2: `exec` cannot be converted" in done["error"]
    assert not (root / "project" / "src/corpus/pipelines/bad").exists()


@pytest.mark.slow
def test_run_job_shows_records_and_serves_the_html(server: Server):
    """Run with a parameter: progress, the records, and the report behind the token."""
    job = start(server, "run", "project/notebooks/sweep_square.ipynb", parameters={"x": "5"})
    done = follow(server, job)
    assert done["state"] == "succeeded", done
    result = done["result"]
    assert result["parameters"] == {"x": "5"}
    assert result["records"] == {"square": "25"}
    assert "powers" in result["record_files"]
    assert any(e["event"] == "progress" for e in done["events"])
    report = call(server, "GET", f"jobs/{done['id']}/report")
    assert report.status_code == 200
    assert report.headers["Content-Type"].startswith("text/html")
    assert "sandbox" in report.headers["Content-Security-Policy"]
    assert "x must not be 3" in report.text  # the notebook's code is in its HTML


@pytest.mark.slow
def test_a_failing_run_says_which_cell_raised(server: Server):
    """x=3 makes the notebook raise: the job fails with the cell and the error."""
    job = start(server, "run", "project/notebooks/sweep_square.ipynb", parameters={"x": "3"})
    done = follow(server, job)
    assert done["state"] == "failed"
    assert done["result"]["status"] == "failed-cell"
    assert "x must not be 3" in done["result"]["error"]


@pytest.mark.slow
def test_cancel_stops_the_run_and_its_kernel(server: Server, root: Path):
    """A cell that sleeps for minutes: cancel ends the job and kills the notebook's kernel."""
    job = start(server, "run", "project/notebooks/hangs.ipynb", parameters={})
    events: list[dict[str, Any]] = []
    while not any(e["event"] == "progress" and e["done"] >= 2 for e in events):
        view = call(server, "GET", f"jobs/{job['id']}?since={len(events)}").json()
        assert view["state"] == "running", view
        events += view["events"]
    kernels = _kernels_in(root / "project" / "notebooks")
    assert kernels, "the notebook's kernel should be running the sleeping cell"
    cancelled = call(server, "DELETE", f"jobs/{job['id']}").json()
    assert cancelled["state"] in ("running", "cancelled")
    done = follow(server, cancelled)
    assert done["state"] == "cancelled"
    assert _gone(kernels, within=15)


def _kernels_in(folder: Path) -> list[int]:
    """IPython kernels running with ``folder`` as their working directory."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes()
            cwd = Path(proc / "cwd").resolve()
        except OSError:
            continue
        if b"ipykernel_launcher" in command and cwd == folder.resolve():
            found.append(int(proc.name))
    return found


def _gone(pids: list[int], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        alive = []
        for pid in pids:
            status = Path(f"/proc/{pid}/status")
            try:
                if "State:\tZ" not in status.read_text():
                    alive.append(pid)
            except OSError:
                pass
        if not alive:
            return True
        time.sleep(0.2)
    return False
