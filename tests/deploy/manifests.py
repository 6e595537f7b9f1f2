"""Reading deploy/kubernetes/ as `kubectl apply -k` would send it, for the tests that check it."""

from __future__ import annotations

from typing import Any

import yaml

from tests.conftest import ROOT

MANIFESTS = ROOT / "deploy/kubernetes"


def kustomization() -> dict[str, Any]:
    """deploy/kubernetes/kustomization.yaml."""
    return yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())


def resources() -> list[dict[str, Any]]:
    """Every object of the manifests kustomization.yaml lists, in its order."""
    return [
        document
        for name in kustomization()["resources"]
        for document in yaml.safe_load_all((MANIFESTS / name).read_text())
        if document
    ]


def only(kind: str) -> dict[str, Any]:
    """The one object of ``kind``."""
    (resource,) = [r for r in resources() if r["kind"] == kind]
    return resource


def pod_spec() -> dict[str, Any]:
    """The Deployment's pod template spec."""
    return only("Deployment")["spec"]["template"]["spec"]


def container() -> dict[str, Any]:
    """The Deployment's one container: the bento's image."""
    (main,) = pod_spec()["containers"]
    return main


def container_env() -> dict[str, Any]:
    """The container's environment: the ConfigMap's keys (``envFrom``), then its ``env``.

    Values are strings, or the ``valueFrom`` mapping of variables read from elsewhere (Secrets).
    """
    env: dict[str, Any] = {}
    for source in container().get("envFrom", []):
        assert source["configMapRef"]["name"] == only("ConfigMap")["metadata"]["name"]
        env.update(only("ConfigMap")["data"])
    for variable in container().get("env", []):
        env[variable["name"]] = variable.get("value", variable.get("valueFrom"))
    return env


def secret_env() -> dict[str, dict[str, str]]:
    """The container's variables read from Secrets: name -> ``{"name": secret, "key": key}``."""
    return {
        variable["name"]: variable["valueFrom"]["secretKeyRef"]
        for variable in container().get("env", [])
        if "secretKeyRef" in variable.get("valueFrom", {})
    }
