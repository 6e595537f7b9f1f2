"""deploy/dask/: Dask on Kubernetes for DaskRunner, valid offline and in step with the project.

The objects are validated against the strict Kubernetes schemas (kubernetes-validate) of the
oldest and newest versions claimed; the tests then check what a cluster would not tell until the
run fails: workers and Job reach the scheduler's Service, worker threads and memory match their
pods, the Job's command is a `kedro run` this project accepts, the image is the project's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from dask.utils import parse_bytes

from tests.conftest import ROOT
from tests.deploy.test_kubernetes import KUBERNETES_VERSIONS, validation_errors

DASK = ROOT / "deploy" / "dask"
HADOLINT = Path(sys.executable).with_name("hadolint")


def _kustomization() -> dict[str, Any]:
    return yaml.safe_load((DASK / "kustomization.yaml").read_text())


def _objects() -> list[dict[str, Any]]:
    return [
        document
        for name in _kustomization()["resources"]
        for document in yaml.safe_load_all((DASK / name).read_text())
        if document
    ]


def _named(kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in _objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def _container(kind: str, name: str) -> dict[str, Any]:
    (container,) = _named(kind, name)["spec"]["template"]["spec"]["containers"]
    return container


def _option(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_for_kubernetes(version):
    """Strict schemas: an unknown or misplaced field is an error."""
    errors = [error for obj in _objects() for error in validation_errors(obj, version)]
    assert not errors, "\n".join(errors)


def test_kustomization_lists_every_manifest():
    """Nothing left out of `kubectl apply -k deploy/dask`."""
    present = {path.name for path in DASK.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(_kustomization()["resources"]) == present


def test_workers_and_the_job_reach_the_schedulers_service():
    """One address everywhere: the Service's name and port, which select the scheduler pod."""
    service = _named("Service", "dask-scheduler")
    scheduler = _named("Deployment", "dask-scheduler")
    labels = scheduler["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    ports = {p["name"]: p for p in _container("Deployment", "dask-scheduler")["ports"]}
    comm = next(p for p in service["spec"]["ports"] if p["name"] == "comm")
    assert ports[comm["targetPort"]]["containerPort"] == 8786
    scheduler_args = _container("Deployment", "dask-scheduler")["args"]
    assert int(_option(scheduler_args, "--port")) == ports["comm"]["containerPort"]
    address = f"tcp://{service['metadata']['name']}:{comm['port']}"
    assert _container("Deployment", "dask-worker")["args"][0] == address
    job_env = {e["name"]: e.get("value") for e in _container("Job", "kedro-run")["env"]}
    assert job_env["DASK_SCHEDULER_ADDRESS"] == address


def test_worker_threads_memory_and_native_pools_match_the_pod():
    """--nthreads is the CPU limit, --memory-limit fits under the pod's, the memory resource
    the node tags ask for is the memory limit, one OpenMP/BLAS thread per worker thread."""
    worker = _container("Deployment", "dask-worker")
    args = worker["args"]
    limits = worker["resources"]["limits"]
    assert _option(args, "--nworkers") == "1"
    assert int(_option(args, "--nthreads")) == int(limits["cpu"])
    memory_limit = parse_bytes(_option(args, "--memory-limit").replace("GiB", " GiB"))
    assert memory_limit < parse_bytes(limits["memory"].replace("Gi", " GiB"))
    resources = dict(item.split("=") for item in _option(args, "--resources").split(","))
    assert float(resources["memory"]) == memory_limit
    env = {e["name"]: e.get("value") for e in worker["env"]}
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        assert env[variable] == "1"


def test_the_job_runs_a_kedro_run_this_project_accepts():
    """The runner loads, the environment exists, and every pipeline named is registered."""
    from kedro.utils import load_obj

    container = _container("Job", "kedro-run")
    assert container["command"] == ["kedro", "run"]
    args = container["args"]
    assert load_obj(_option(args, "--runner")).__name__ == "DaskRunner"
    assert (ROOT / "conf" / _option(args, "--env")).is_dir()
    registered = {path.name for path in (ROOT / "src/fraud_detection/pipelines").iterdir()}
    assert set(_option(args, "--pipelines").split(",")) <= registered
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert f"/app/conf/{_option(args, '--env')}/credentials.yml" in mounts


def test_every_pod_runs_the_projects_image_as_its_user():
    """One image (the kustomization's), the Dockerfile's user, in every pod."""
    image = _kustomization()["images"][0]["name"]
    dockerfile = (DASK / "Dockerfile").read_text()
    (user,) = re.findall(r"^USER (\d+):(\d+)$", dockerfile, flags=re.MULTILINE)
    for kind, name in (
        ("Deployment", "dask-scheduler"),
        ("Deployment", "dask-worker"),
        ("Job", "kedro-run"),
    ):
        pod = _named(kind, name)["spec"]["template"]["spec"]
        assert _container(kind, name)["image"] == image
        context = pod["securityContext"]
        assert (str(context["runAsUser"]), str(context["runAsGroup"])) == user


def test_the_dockerfile_passes_hadolint_and_copies_what_exists(tmp_path):
    """No finding at style level, no exception; every COPY source is in the repository."""
    config = tmp_path / "hadolint.yaml"
    config.write_text("failure-threshold: style\n")
    result = subprocess.run(
        [str(HADOLINT), "--config", str(config), "--no-color", str(DASK / "Dockerfile")],
        env={k: v for k, v in os.environ.items() if not k.startswith("HADOLINT_")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stdout) == (0, "")
    for sources in re.findall(r"^COPY (.+) \S+$", (DASK / "Dockerfile").read_text(), re.M):
        for source in sources.split():
            assert (ROOT / source).exists(), source
