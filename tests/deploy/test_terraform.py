"""The Terraform module of deploy/terraform: checkov finds nothing, its skips still earn their
place, a weakened copy fails, and every variable, local and module input is declared.

checkov and its HCL parser live in their own environment (tools/checkov, `make test-tools`);
no terraform binary is needed. checkov runs offline: no platform API key, nothing downloaded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

MODULE = ROOT / "deploy" / "terraform"
EXAMPLE = MODULE / "examples" / "basic"
CONFIG = MODULE / ".checkov.yaml"
CHECKOV_BIN = ROOT / ".tools" / "checkov" / "bin"

# Checks of the Deployment the module must keep passing (a passing run that skipped them would
# prove nothing): probes, requests and limits, no privilege, read-only root, capabilities.
DEPLOYMENT_CHECKS = {
    "CKV_K8S_8",  # liveness probe
    "CKV_K8S_9",  # readiness probe
    "CKV_K8S_10",  # CPU requests
    "CKV_K8S_11",  # CPU limits
    "CKV_K8S_12",  # memory limits
    "CKV_K8S_13",  # memory requests
    "CKV_K8S_16",  # not privileged
    "CKV_K8S_20",  # no privilege escalation
    "CKV_K8S_21",  # not the default namespace
    "CKV_K8S_22",  # read-only root filesystem
    "CKV_K8S_28",  # no NET_RAW
    "CKV_K8S_30",  # container security context
    "CKV_K8S_37",  # capabilities dropped
}

# A copy of main.tf with one weakness each, and the check that must then fail.
WEAKENINGS = [
    ("privileged                 = false", "privileged                 = true", "CKV_K8S_16"),
    ("allow_privilege_escalation = false", "allow_privilege_escalation = true", "CKV_K8S_20"),
    ("read_only_root_filesystem  = true", "read_only_root_filesystem  = false", "CKV_K8S_22"),
    ("            limits   = var.resources.limits\n", "", "CKV_K8S_11"),
]


def checkov_tool(name: str) -> Path:
    """A program of checkov's environment; fails (never skips) when it is not installed."""
    path = CHECKOV_BIN / name
    if not path.exists():
        pytest.fail(
            f"{path.relative_to(ROOT)} is missing: `make test-tools` installs checkov "
            "(tools/checkov) into .tools/checkov"
        )
    return path


def run_checkov(directory: Path, workdir: Path, *args: str) -> dict[str, Any]:
    """checkov's JSON report on the Terraform in ``directory``, offline.

    checkov reads the `.checkov.yaml` of ``directory``, as `checkov -d deploy/terraform` does for
    a user; it runs in ``workdir`` with ``HOME`` there, so that no other configuration applies.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BC_", "PRISMA_", "CKV_", "CHECKOV_"))
    }
    env |= {"HOME": str(workdir), "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "LOG_LEVEL": "WARNING"}
    result = subprocess.run(
        [
            str(checkov_tool("checkov")),
            "--directory",
            str(directory),
            "--framework",
            "terraform",
            "--skip-download",
            "--download-external-modules",
            "false",
            "--output",
            "json",
            *args,
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    # 0: no failed check, 1: failed checks; anything else is checkov failing to run.
    assert result.returncode in (0, 1), result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert isinstance(report, dict) and "results" in report, f"nothing scanned: {report}"
    assert report["summary"]["parsing_errors"] == 0, report["summary"]
    return report


def failed(report: dict[str, Any]) -> list[str]:
    return [
        f"{check['check_id']} {check['check_name']}: {check['resource']} "
        f"({check['file_path']}:{check['file_line_range']})"
        for check in report["results"]["failed_checks"]
    ]


def skipped_checks() -> list[str]:
    return yaml.safe_load(CONFIG.read_text())["skip-check"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """checkov on the module and its example, with the committed configuration."""
    return run_checkov(MODULE, tmp_path_factory.mktemp("checkov"))


@pytest.mark.slow
def test_checkov_finds_no_failed_check(report: dict[str, Any]):
    """checkov passes the module, having run the Deployment's security and resource checks."""
    assert not failed(report), "\n".join(failed(report))
    passed = {
        check["check_id"]
        for check in report["results"]["passed_checks"]
        if "kubernetes_deployment_v1" in check["resource"]
    }
    assert passed >= DEPLOYMENT_CHECKS, f"not run: {sorted(DEPLOYMENT_CHECKS - passed)}"


@pytest.mark.slow
def test_every_skipped_check_still_fails_without_its_skip(tmp_path: Path):
    """Each check .checkov.yaml skips fails on the module without the skip, or it must go."""
    skips = skipped_checks()
    copy = tmp_path / "terraform"
    shutil.copytree(MODULE, copy)
    (copy / CONFIG.name).unlink()
    report = run_checkov(copy, tmp_path, "--check", ",".join(skips))
    still_failing = {check["check_id"] for check in report["results"]["failed_checks"]}
    stale = sorted(set(skips) - still_failing)
    assert not stale, (
        f"{stale} pass on deploy/terraform without a skip now: delete them from "
        f"{CONFIG.relative_to(ROOT)}"
    )


def test_every_skip_gives_its_reason():
    """Each skipped check id has a comment explaining it right above its entry."""
    lines = CONFIG.read_text().splitlines()
    for skip in skipped_checks():
        (index,) = (i for i, line in enumerate(lines) if line.strip() == f"- {skip}")
        assert lines[index - 1].strip().startswith("#"), f"{skip} is skipped without a reason"


@pytest.mark.slow
def test_weakened_module_fails_checkov(tmp_path: Path):
    """A copy of the module with a privileged container, privilege escalation, a writable root
    and no resource limits fails the very checks the module passes."""
    copy = tmp_path / "terraform"
    shutil.copytree(MODULE, copy)
    main = copy / "main.tf"
    text = main.read_text()
    for secure, weak, _ in WEAKENINGS:
        assert text.count(secure) == 1, f"main.tf no longer contains {secure!r}: update the test"
        text = text.replace(secure, weak)
    main.write_text(text)

    report = run_checkov(copy, tmp_path)

    failing = {check["check_id"] for check in report["results"]["failed_checks"]}
    expected = {check_id for _, _, check_id in WEAKENINGS}
    assert expected <= failing, f"checkov missed {sorted(expected - failing)}"


def parse_hcl(directory: Path) -> dict[str, dict[str, Any]]:
    """Every .tf file of ``directory`` as parsed by checkov's HCL parser (python-hcl2)."""
    script = (
        "import hcl2, json, pathlib, sys\n"
        "files = sorted(pathlib.Path(sys.argv[1]).glob('*.tf'))\n"
        "print(json.dumps({f.name: hcl2.loads(f.read_text()) for f in files}))\n"
    )
    result = subprocess.run(
        [str(checkov_tool("python")), "-c", script, str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def blocks(parsed: dict[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """The blocks of one kind (variable, output, module, locals) across the files, by name."""
    found: dict[str, dict[str, Any]] = {}
    for document in parsed.values():
        for block in document.get(kind, []):
            found.update((key, value) for key, value in block.items() if not key.startswith("__"))
    return found


def references(parsed: dict[str, dict[str, Any]], prefix: str) -> set[str]:
    return set(re.findall(rf"\b{prefix}\.([A-Za-z_][A-Za-z0-9_-]*)", json.dumps(parsed)))


@pytest.mark.parametrize("directory", [MODULE, EXAMPLE], ids=["module", "example"])
def test_every_variable_and_local_used_is_declared_and_described(directory: Path):
    """No reference to an undeclared variable or local (terraform would stop), no variable
    declared for nothing, and every variable and output documented and typed."""
    parsed = parse_hcl(directory)
    variables = blocks(parsed, "variable")
    used = references(parsed, "var")
    assert used <= set(variables), f"undeclared variables: {sorted(used - set(variables))}"
    assert set(variables) <= used, f"variables nothing uses: {sorted(set(variables) - used)}"
    declared_locals = set(blocks(parsed, "locals"))
    used_locals = references(parsed, "local")
    assert used_locals <= declared_locals, f"undeclared locals: {used_locals - declared_locals}"
    for name, variable in variables.items():
        assert variable.get("description") and variable.get("type"), f"variable {name}"
    for name, output in blocks(parsed, "output").items():
        assert output.get("description"), f"output {name} has no description"


def test_example_gives_the_module_every_required_input_and_only_known_ones():
    """The example's module block sets every variable without a default, and no unknown one."""
    variables = blocks(parse_hcl(MODULE), "variable")
    (call,) = blocks(parse_hcl(EXAMPLE), "module").values()
    given = {key for key in call if key != "source" and not key.startswith("__")}
    required = {name for name, variable in variables.items() if "default" not in variable}
    assert required <= given, f"not given: {sorted(required - given)}"
    assert given <= set(variables), f"not module inputs: {sorted(given - set(variables))}"


def test_module_pins_terraform_and_the_kubernetes_provider():
    """versions.tf pins Terraform and hashicorp/kubernetes with version constraints."""
    (terraform,) = parse_hcl(MODULE)["versions.tf"]["terraform"]
    assert terraform["required_version"][0].startswith(">=")
    (providers,) = terraform["required_providers"]
    (kubernetes,) = providers["kubernetes"]
    assert kubernetes["source"] == "hashicorp/kubernetes"
    assert re.fullmatch(r"~> \d+\.\d+", kubernetes["version"])


@pytest.fixture(scope="module")
def image_condition() -> str:
    """The condition variables.tf puts on `image` (what stands in for CKV_K8S_14)."""
    (validation,) = blocks(parse_hcl(MODULE), "variable")["image"]["validation"]
    return validation["condition"][0]


@pytest.mark.parametrize(
    ("image", "accepted"),
    [
        ("registry.example.com/ml/fraud_detection:3hvqzxhj6ktdcgax", True),
        ("registry.example.com/ml/fraud_detection@sha256:" + "0a" * 32, True),
        ("registry.example.com:5000/ml/fraud_detection:v1.2", True),
        ("registry.example.com/ml/fraud_detection", False),
        ("registry.example.com:5000/ml/fraud_detection", False),
        ("registry.example.com/ml/fraud_detection:latest", False),
        ("registry.example.com/ml/fraud_detection@sha256:abc", False),
    ],
)
def test_image_validation_refuses_a_missing_or_latest_tag(
    image_condition: str, image: str, accepted: bool
):
    """`terraform plan` refuses an image without a fixed tag or digest, as the skip of
    CKV_K8S_14 in .checkov.yaml relies on."""
    # The condition is `can(regex("<pattern>", var.image)) && !endswith(var.image, ":latest")`;
    # Terraform's RE2 and Python's re agree on this pattern.
    (pattern,) = re.findall(r'regex\("((?:[^"\\]|\\.)*)"', image_condition)
    assert re.search(r'!endswith\(var\.image, *":latest"\)', image_condition), image_condition
    verdict = re.search(pattern.replace("\\\\", "\\"), image) is not None
    assert (verdict and not image.endswith(":latest")) is accepted
