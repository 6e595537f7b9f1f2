"""The container image of the bento: the Dockerfile BentoML generates passes hadolint with the
exceptions deploy/hadolint.yaml explains, and the image runs as deploy/kubernetes/ runs it.

`bentoml containerize` needs a Docker engine; these tests check what it would build from, and
serve the exported bento the way the pod would (same environment, read-only image files).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import ROOT
from tests.deploy.manifests import container, container_env, only, secret_env
from tests.serving.conftest import OFFLINE, BuiltBento
from tests.serving.server import bentoml_serve

HADOLINT = Path(sys.executable).with_name("hadolint")
HADOLINT_CONFIG = ROOT / "deploy/hadolint.yaml"
REQUEST = json.loads((ROOT / "tests/fixtures/predict_request.json").read_text())


def dockerfile_of(bento: BuiltBento) -> Path:
    path = bento.path / "env/docker/Dockerfile"
    assert path.is_file(), f"the bento has no Dockerfile: {sorted(bento.path.rglob('*'))[:20]}"
    return path


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """The Dockerfile's instructions as ``(INSTRUCTION, arguments)``, continuations joined."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    return [
        (word.upper(), rest.strip())
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
        for word, _, rest in [line.strip().partition(" ")]
    ]


def hadolint(dockerfile: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``hadolint`` with exactly ``config``: no HADOLINT_* variables, no config found elsewhere."""
    return subprocess.run(
        [str(HADOLINT), "--config", str(config), "--no-color", *args, str(dockerfile)],
        cwd=config.parent,
        env={k: v for k, v in os.environ.items() if not k.startswith("HADOLINT_")},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_generated_dockerfile_passes_hadolint_with_the_explained_exceptions(built_bento):
    """Every finding is gone upstream or listed, with its reason, in deploy/hadolint.yaml."""
    result = hadolint(dockerfile_of(built_bento), HADOLINT_CONFIG)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.slow
def test_every_hadolint_exception_still_fires_and_says_why(built_bento, tmp_path):
    """The ignore list cannot rot: a rule BentoML's Dockerfile no longer breaks is dropped."""
    config = yaml.safe_load(HADOLINT_CONFIG.read_text())
    ignored = config["ignored"]
    assert config["failure-threshold"] == "style"  # every severity counts
    bare = tmp_path / "hadolint.yaml"
    bare.write_text(yaml.safe_dump({"failure-threshold": "style", "ignored": []}))
    result = hadolint(dockerfile_of(built_bento), bare, "--format", "json", "--no-fail")
    assert result.returncode == 0, result.stderr
    fired = {finding["code"] for finding in json.loads(result.stdout)}
    assert sorted(set(ignored) - fired) == [], "remove these from deploy/hadolint.yaml"
    for rule in ignored:
        (line,) = [ln for ln in HADOLINT_CONFIG.read_text().splitlines() if f"- {rule}" in ln]
        assert re.search(r"#\s*\S.{10,}", line), f"{rule} needs a reason in deploy/hadolint.yaml"


@pytest.mark.slow
def test_deployment_runs_the_image_as_built_with_its_user_and_port(built_bento):
    """No CMD to override and none given, so the entrypoint serves the bento; the numeric user
    the pod runs as is the image's `bentoml`; the container port is the one the image exposes."""
    steps = instructions(dockerfile_of(built_bento))
    args = dict(arg.split("=", 1) for kind, arg in steps if kind == "ARG" and "=" in arg)
    assert [arg for kind, arg in steps if kind == "CMD"] == []
    assert "command" not in container() and "args" not in container()
    assert [arg for kind, arg in steps if kind == "USER"][-1] == args["BENTO_USER"] == "bentoml"
    pod = only("Deployment")["spec"]["template"]["spec"]["securityContext"]
    assert pod["runAsUser"] == int(args["BENTO_USER_UID"])
    assert pod["runAsGroup"] == int(args["BENTO_USER_GID"])
    exposed = {int(port) for kind, arg in steps if kind == "EXPOSE" for port in arg.split()}
    assert {p["containerPort"] for p in container()["ports"]} <= exposed


def _bento_path(dockerfile: Path) -> PurePosixPath:
    (path,) = [
        arg.split("=", 1)[1]
        for kind, arg in instructions(dockerfile)
        if kind == "ARG" and arg.startswith("BENTO_PATH=")
    ]
    return PurePosixPath(path)


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in root.rglob("*")
    }


@pytest.mark.slow
def test_image_serves_with_the_deployments_environment_on_a_read_only_root(
    built_bento, exported_bento, tmp_path
):
    """The exported bento, laid out as in the image and served as the pod would serve it: the
    probes answer without the token, /predict needs it, the packed model scores, and nothing is
    written outside the pod's /tmp volume."""
    # The container's filesystem: the image's files under image/, the emptyDir at /tmp under tmp/.
    image, volume = tmp_path / "image", tmp_path / "tmp"

    def host(path: str | PurePosixPath) -> Path:
        mounted = PurePosixPath(path)
        if mounted.is_relative_to("/tmp"):
            return volume / mounted.relative_to("/tmp")
        return image / mounted.relative_to("/")

    bento = host(_bento_path(dockerfile_of(built_bento)))
    bento.mkdir(parents=True)
    with tarfile.open(exported_bento) as packed:
        # Python 3.11.4+ filters members (Debian's 3.11.2 cannot; the bento is our own export).
        packed.extractall(bento, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    volume.mkdir()
    token = "a-token-for-the-test"
    env: dict[str, Any] = {
        name: value for name, value in container_env().items() if isinstance(value, str)
    }
    env |= dict.fromkeys(secret_env(), token)
    env |= {"HOME": str(host("/home/bentoml")), "TMPDIR": str(volume)}
    home = host(env.pop("BENTOML_HOME"))
    before = _tree(image)

    with bentoml_serve(
        str(bento), home=home, cwd=bento, log=tmp_path / "bentoml.log", env={**OFFLINE, **env}
    ) as url:
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            response = httpx.get(url + container()[probe]["httpGet"]["path"], timeout=10)
            assert response.status_code == 200, (probe, response.text)
        refused = httpx.post(f"{url}/predict", json=REQUEST, timeout=30)
        assert refused.status_code == 401, refused.text
        answered = httpx.post(
            f"{url}/predict",
            json=REQUEST,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["model"] == built_bento.model.tag

    assert _tree(image) == before
    assert (home / "prometheus_multiproc_dir").is_dir()  # BentoML's writes went to the volume
