"""deploy/kubernetes/: the manifests are valid Kubernetes objects, offline, and agree with the code
they deploy: the routes the service answers, the settings it reads, the port it serves on.

Validation is kubernetes-validate's strict JSON schemas (an unknown field is an error), for the
oldest and newest Kubernetes versions the manifests claim. Whether a real cluster admits and runs
them (admission, scheduling, image pulls) needs a cluster: docs/deploy.md.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_validate import utils as kubernetes_validate

from tests.conftest import ROOT
from tests.deploy.manifests import (
    MANIFESTS,
    container,
    container_env,
    kustomization,
    only,
    pod_spec,
    resources,
    secret_env,
)

KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
"""The oldest Kubernetes the manifests claim, and the newest kubernetes-validate knows."""
SERVICE_MODULE = ROOT / "src/fraud_detection/service.py"
PROMETHEUS_KUBERNETES = ROOT / "deploy/monitoring/prometheus-kubernetes.yml"
DEPLOY_DOC = ROOT / "docs/deploy.md"


def validation_errors(resource: dict[str, Any], version: str) -> list[str]:
    """What is wrong with one Kubernetes object for Kubernetes ``version``, strict schemas.

    An object of a kind or API version the schemas do not know is an error too (the CLI only
    warns): a removed API version fails on the cluster.
    """
    name = f"{resource.get('kind')}/{resource.get('metadata', {}).get('name')}"
    try:
        kubernetes_validate.validate(resource, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        location = ".".join(str(part) for part in exc.path)
        return [f"{name} at {location or '<top>'}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"{name}: {exc.message}"]
    return []


@pytest.fixture(scope="module")
def service_view() -> dict[str, Any]:
    """The service as the pod's environment makes it: its settings, routes and request guards.

    Imported in a process of its own with the ConfigMap's values (settings are read on import),
    without starting a server or loading a model.
    """
    script = """
import json
from bentoml._internal.configuration.containers import BentoMLContainer
from fraud_detection import service

app = service.FraudDetection.to_asgi()
print(json.dumps({
    "model_tag": service.MODEL_TAG,
    "max_transactions": service.MAX_TRANSACTIONS,
    "routes": {r.path: sorted(r.methods) for r in app.routes if getattr(r, "methods", None)},
    "guards": [
        {"path": options["path"], "token_env": options["token_env"]}
        for cls, options in service.FraudDetection.middlewares
        if cls.__name__ == "RequestGuard"
    ],
    "port": BentoMLContainer.http.port.get(),
}))
"""
    settings = {k: v for k, v in container_env().items() if isinstance(v, str)}
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **settings, "FRAUD_DETECTION_API_TOKEN": "a-token"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_is_a_valid_kubernetes_object(version):
    """Strict schema validation of every object `kubectl apply -k` would send."""
    errors = [error for resource in resources() for error in validation_errors(resource, version)]
    assert not errors, "\n".join(errors)
    assert {r["kind"] for r in resources()} >= {
        "Deployment",
        "Service",
        "ConfigMap",
        "HorizontalPodAutoscaler",
    }


def test_kustomization_applies_every_manifest_of_the_folder():
    """No manifest left out of `kubectl apply -k`, none listed that does not exist."""
    listed = set(kustomization()["resources"])
    present = {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


def _misspell_probe(objects: dict[str, Any]) -> None:
    main = objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    main["readynessProbe"] = main.pop("readinessProbe")


def _port_as_string(objects: dict[str, Any]) -> None:
    main = objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    main["ports"][0]["containerPort"] = "3000"


def _removed_api_version(objects: dict[str, Any]) -> None:
    objects["HorizontalPodAutoscaler"]["apiVersion"] = "autoscaling/v2beta2"


def _unnamed_container(objects: dict[str, Any]) -> None:
    del objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]["name"]


def _misplaced_field(objects: dict[str, Any]) -> None:
    objects["Service"]["spec"]["targetPort"] = 3000


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (
            _misspell_probe,
            "Additional properties are not allowed ('readynessProbe' was unexpected)",
        ),
        (_port_as_string, "containerPort: '3000' is not of type 'integer'"),
        (_removed_api_version, "api version autoscaling/v2beta2"),
        (_unnamed_container, "'name' is a required property"),
        (_misplaced_field, "not allowed ('targetPort' was unexpected)"),
    ],
)
def test_validation_rejects_a_broken_manifest(break_it: Callable[[dict], None], message):
    """The validation above is not vacuous: one mistake in a real manifest is named."""
    objects = {r["kind"]: copy.deepcopy(r) for r in resources()}
    break_it(objects)
    errors = [e for r in objects.values() for e in validation_errors(r, KUBERNETES_VERSIONS[-1])]
    assert len(errors) == 1, errors
    assert message in errors[0]


def test_probes_ask_routes_the_service_answers_without_the_token(service_view):
    """/readyz and /livez are BentoML's own GET routes, outside the bearer-token guard."""
    probes = {
        kind: container()[kind]["httpGet"]["path"]
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes["readinessProbe"] == "/readyz"
    assert probes["livenessProbe"] == "/livez"
    guarded = {guard["path"] for guard in service_view["guards"]}
    for kind, path in probes.items():
        assert "GET" in service_view["routes"].get(path, []), (kind, path)
        assert path not in guarded, (kind, path)


def _settings_read_by_the_service() -> set[str]:
    tree = ast.parse(SERVICE_MODULE.read_text())
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"FRAUD_DETECTION_[A-Z0-9_]+", node.value)
    }


def test_configmap_and_secret_provide_exactly_the_settings_the_service_reads(service_view):
    """Every FRAUD_DETECTION_* name in service.py comes from the ConfigMap or the Secret, and
    the service takes the ConfigMap's values as given."""
    configmap = only("ConfigMap")["data"]
    from_secrets = set(secret_env())
    assert set(configmap) | from_secrets == _settings_read_by_the_service()
    assert not set(configmap) & from_secrets
    assert from_secrets == {guard["token_env"] for guard in service_view["guards"]}
    assert service_view["model_tag"] == configmap["FRAUD_DETECTION_MODEL"]
    assert service_view["max_transactions"] == int(configmap["FRAUD_DETECTION_MAX_TRANSACTIONS"])


def _port_number(container_spec: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container_spec["ports"] if p.get("name") == port]
    return number


def test_service_and_metrics_annotation_reach_the_port_bentoml_serves_on(service_view):
    """Service targetPort, container port and the scrape annotation all mean BentoML's port."""
    (port,) = only("Service")["spec"]["ports"]
    assert _port_number(container(), port["targetPort"]) == service_view["port"] == 3000
    assert [p["containerPort"] for p in container()["ports"]] == [service_view["port"]]
    annotations = only("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == service_view["port"]
    assert "GET" in service_view["routes"][annotations["prometheus.io/path"]]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert _port_number(container(), container()[probe]["httpGet"]["port"]) == 3000


def test_selectors_pick_the_deployments_pods():
    """The Deployment, Service, disruption budget and spread constraint select its pod labels."""
    deployment = only("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selectors = {
        "Deployment": deployment["spec"]["selector"]["matchLabels"],
        "Service": only("Service")["spec"]["selector"],
        "PodDisruptionBudget": only("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
        **{
            f"topologySpreadConstraints[{i}]": constraint["labelSelector"]["matchLabels"]
            for i, constraint in enumerate(pod_spec().get("topologySpreadConstraints", []))
        },
    }
    for owner, selector in selectors.items():
        assert selector, owner
        assert selector.items() <= labels.items(), (owner, selector, labels)


def test_autoscaler_scales_the_deployment_on_its_cpu_request():
    """The HPA names the Deployment, which has a CPU request to measure against and leaves the
    replica count to it (a `replicas:` would reset the count on every apply)."""
    hpa = only("HorizontalPodAutoscaler")
    deployment = only("Deployment")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": deployment["apiVersion"],
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    assert "cpu" in container()["resources"]["requests"]
    assert "replicas" not in deployment["spec"]
    assert 1 < hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    budget = only("PodDisruptionBudget")["spec"]
    assert budget["maxUnavailable"] < hpa["spec"]["minReplicas"]  # a drain keeps one serving


_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
_FACTORS = {
    None: 1,
    "m": Decimal("0.001"),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def quantity(value: str | int) -> Decimal:
    """A Kubernetes quantity (``500m``, ``2Gi``, ``1``) as a number; the schemas do not check
    them."""
    match = _QUANTITY.match(str(value))
    assert match, f"not a Kubernetes quantity: {value!r}"
    return Decimal(match[1]) * _FACTORS[match[2]]


def test_resource_requests_are_quantities_within_the_limits():
    """The API server refuses a request above its limit; the schemas let a typo like 2GB pass."""
    resources_ = container()["resources"]
    assert set(resources_["requests"]) == set(resources_["limits"]) == {"cpu", "memory"}
    for name in ("cpu", "memory"):
        assert quantity(resources_["requests"][name]) <= quantity(resources_["limits"][name])
    assert quantity(resources_["limits"]["memory"]) >= quantity("1Gi")  # ~0.5 GiB measured idle


def test_pods_meet_the_restricted_pod_security_standard():
    """namespace.yaml enforces `restricted`: a pod breaking it would be refused at admission."""
    namespace = only("Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert kustomization()["namespace"] == namespace["metadata"]["name"]
    pod = pod_spec()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"]["type"] in {"RuntimeDefault", "Localhost"}
    for spec in pod["containers"] + pod.get("initContainers", []):
        context = spec["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context.get("privileged", False) is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert not context["capabilities"].get("add")
    assert not any("hostPath" in volume for volume in pod.get("volumes", []))
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")


def test_writable_paths_on_the_read_only_filesystem_are_volumes():
    """With a read-only root, BentoML's home and temporary files must sit on a mounted volume."""
    assert container()["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"] for m in container()["volumeMounts"]}
    volumes = {v["name"] for v in pod_spec()["volumes"]}
    assert {m["name"] for m in container()["volumeMounts"]} <= volumes
    assert "/tmp" in mounts
    home = container_env()["BENTOML_HOME"]
    assert any(Path(home).is_relative_to(mount) for mount in mounts), home


def test_the_image_kustomize_sets_is_the_deployments():
    """The `images:` override matches the container's image name, with a fixed tag."""
    image = container()["image"]
    name, _, tag = image.rpartition(":")
    (override,) = kustomization()["images"]
    assert override["name"] == name == "fraud_detection"  # as `bentoml containerize` names it
    for value in (tag, override["newTag"]):
        assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", value) and value != "latest"


def test_deploy_doc_creates_the_secret_the_deployment_reads():
    """The `kubectl create secret` of docs/deploy.md gives the name and key the pod needs."""
    text = DEPLOY_DOC.read_text().replace("\\\n", " ")
    (line,) = [line for line in text.splitlines() if "create secret generic" in line]
    words = shlex.split(line.strip())
    name = words[words.index("generic") + 1]
    (literal,) = [w for w in words if w.startswith("--from-literal=")]
    key = literal.removeprefix("--from-literal=").split("=", 1)[0]
    namespace = words[words.index("-n") + 1]
    (token,) = secret_env().values()
    assert (namespace, name, key) == (kustomization()["namespace"], token["name"], token["key"])
    assert token.get("optional", False) is False  # no token, no pod: /predict is never open


def _prometheus_name(key: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", key)


def test_prometheus_kubernetes_config_scrapes_these_pods():
    """Every label and annotation deploy/monitoring/prometheus-kubernetes.yml keeps pods by is
    on the pod template, with a value its regex accepts."""
    config = yaml.safe_load(PROMETHEUS_KUBERNETES.read_text())
    metadata = only("Deployment")["spec"]["template"]["metadata"]
    on_pod = {
        "__meta_kubernetes_pod_label_": metadata["labels"],
        "__meta_kubernetes_pod_annotation_": metadata["annotations"],
    }
    checked = 0
    for job in config["scrape_configs"]:
        if not any(sd.get("role") == "pod" for sd in job.get("kubernetes_sd_configs", [])):
            continue
        for rule in job.get("relabel_configs", []):
            if rule.get("action") != "keep" or len(rule["source_labels"]) != 1:
                continue
            (source,) = rule["source_labels"]
            for prefix, values in on_pod.items():
                if source.startswith(prefix):
                    named = {_prometheus_name(k): v for k, v in values.items()}
                    value = named.get(source.removeprefix(prefix), "")
                    assert re.fullmatch(rule.get("regex", "(.*)"), value), (source, value)
                    checked += 1
    assert checked >= 2  # the config still keeps pods by label and annotation
