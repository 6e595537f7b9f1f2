"""``kedro reproduce``: check that what a run used is still here, run it again, compare.

Nothing is checked out: the current code, lock, environment, parameters and input data are
compared with the manifest (every difference named), then the same pipelines run with the same
runtime parameters and filters, and the new run's outputs are compared with the recorded ones:
the packaged model's artifacts (SHA-256) and metrics, and every dataset both runs wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab2prod.lineage.cache import parameter_changes
from lab2prod.lineage.fingerprints import (
    FileMemo,
    NotFingerprintable,
    dataset_fingerprint,
    plain,
    value_digest,
)
from lab2prod.lineage.manifest import is_parameter


@dataclass(frozen=True)
class Difference:
    """One way the project differs from a run's manifest, or a new run from the recorded one.

    Attributes:
        what: ``code``, ``lock``, ``environment``, ``parameter``, ``input``, ``notebook``,
            ``model``, ``metric`` or ``output``.
        name: What differs (a parameter key, a dataset, a file).
        detail: One phrase for a person.
    """

    what: str
    name: str
    detail: str

    def render(self) -> str:
        """One line."""
        return f"{self.what:>11}  {self.name}: {self.detail}"


def verify(
    project_path: Path, manifest: dict[str, Any], parameters: dict[str, Any], catalog: Any
) -> list[Difference]:
    """What differs between the project now and the run of ``manifest``.

    Args:
        project_path: The project's root.
        manifest: The run's manifest.
        parameters: The resolved parameters now (with the run's runtime parameters).
        catalog: The catalog now.
    """
    from lab2prod.lineage.state import environment_state, git_state, lock_state, notebook_state

    differences = []
    recorded_git, git = manifest.get("git") or {}, git_state(project_path)
    if recorded_git.get("commit") != git.get("commit"):
        differences.append(
            Difference(
                "code",
                "commit",
                f"recorded {recorded_git.get('commit')}, checked out {git.get('commit')}",
            )
        )
    if recorded_git.get("diff_sha256") != git.get("diff_sha256"):
        differences.append(
            Difference(
                "code",
                "uncommitted changes",
                f"recorded diff {recorded_git.get('diff_sha256') or 'none'}, now "
                f"{git.get('diff_sha256') or 'none'}",
            )
        )
    recorded_lock, lock = manifest.get("lock") or {}, lock_state(project_path) or {}
    if recorded_lock.get("sha256") != lock.get("sha256"):
        differences.append(
            Difference("lock", recorded_lock.get("file") or "lockfile", "differs from the run's")
        )
    recorded_env, env = manifest.get("environment") or {}, environment_state()
    if recorded_env.get("sha256") != env.get("sha256"):
        differences.append(
            Difference(
                "environment",
                "installed distributions",
                f"differ from the run's (Python {recorded_env.get('python')} -> {env['python']})",
            )
        )
    now_notebooks = notebook_state(project_path)
    for pipeline, entry in (manifest.get("notebooks") or {}).items():
        current = (now_notebooks.get(pipeline) or {}).get("current_hash")
        if current != entry.get("current_hash"):
            differences.append(
                Difference("notebook", entry.get("notebook") or pipeline, "changed since the run")
            )
    differences += _code_differences(project_path, manifest)
    differences += _parameter_differences(manifest, parameters)
    differences += _input_differences(project_path, manifest, catalog)
    return differences


def _code_differences(project_path: Path, manifest: dict[str, Any]) -> list[Difference]:
    """Each node of the run whose code fingerprint differs now (works outside git too)."""
    from kedro.framework.project import PACKAGE_NAME, pipelines

    from lab2prod.lineage.code import CodeScanner, code_changes
    from lab2prod.lineage.manifest import _source_dir

    scanner = CodeScanner(package=PACKAGE_NAME, source_dir=_source_dir(project_path))
    nodes = {}
    for name in manifest.get("pipelines") or ["__default__"]:
        pipeline = pipelines.get(name)
        if pipeline is not None:
            nodes.update({node.name: node for node in pipeline.nodes})
    differences = []
    for name, entry in sorted((manifest.get("nodes") or {}).items()):
        recorded = entry.get("code")
        if not recorded:
            continue
        node = nodes.get(name)
        if node is None:
            differences.append(Difference("code", name, "the node is gone"))
            continue
        current = scanner.fingerprint(node.func).as_dict()
        if current["digest"] != recorded.get("digest"):
            phrases = code_changes(recorded, current) or ["changed"]
            differences.append(Difference("code", name, "; ".join(phrases)))
    return differences


def _parameter_differences(
    manifest: dict[str, Any], parameters: dict[str, Any]
) -> list[Difference]:
    seen: dict[str, Any] = {}
    for entry in (manifest.get("nodes") or {}).values():
        for name, value in (entry.get("parameters") or {}).items():
            seen.setdefault(name, value)
    differences = []
    for name, recorded in sorted(seen.items()):
        current = plain(_parameter_value(parameters, name))
        if value_digest(current) != recorded.get("digest"):
            for phrase in parameter_changes(name, recorded.get("value"), current):
                key = phrase.split(" ", 2)[1]
                differences.append(Difference("parameter", key, phrase))
    return differences


def _parameter_value(parameters: dict[str, Any], name: str) -> Any:
    if name == "parameters":
        return parameters
    value: Any = parameters
    for part in name.removeprefix("params:").split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _input_differences(
    project_path: Path, manifest: dict[str, Any], catalog: Any
) -> list[Difference]:
    """Datasets the run read but did not write: its inputs, compared by content."""
    from lab2prod.lineage import store

    memo = FileMemo(store.cache_dir(project_path) / "files.json")
    differences = []
    for name, entry in sorted((manifest.get("datasets") or {}).items()):
        if entry.get("written_by") or not entry.get("read_by") or is_parameter(name):
            continue
        recorded = entry.get("fingerprint_read") or {}
        if recorded.get("kind") in ("memory", "unknown"):
            continue
        dataset = catalog.get(name) if name in catalog else None
        try:
            current = dataset_fingerprint(dataset, memo) if dataset is not None else None
        except NotFingerprintable:
            continue
        if current is None:
            differences.append(Difference("input", name, "is gone"))
        elif current.get("digest") != recorded.get("digest"):
            differences.append(
                Difference(
                    "input",
                    name,
                    f"content differs ({recorded.get('digest')} recorded, "
                    f"{current.get('digest')} now)",
                )
            )
    memo.save()
    return differences


def compare_runs(
    old: dict[str, Any],
    new: dict[str, Any],
    old_model: dict[str, Any] | None,
    new_model: dict[str, Any] | None,
) -> tuple[list[Difference], list[str]]:
    """``(differences, what is the same)`` between a recorded run and its reproduction."""
    differences: list[Difference] = []
    same: list[str] = []
    if old_model is not None and new_model is not None:
        if old_model.get("artifact_sha256") == new_model.get("artifact_sha256"):
            same.append(f"model artifacts {_digests(new_model)}")
        else:
            differences.append(
                Difference(
                    "model",
                    new_model["tag"],
                    f"artifacts differ from {old_model['tag']}'s: {_digests(old_model)} -> "
                    f"{_digests(new_model)}",
                )
            )
        old_metrics, new_metrics = old_model.get("metrics") or {}, new_model.get("metrics") or {}
        changed = [
            k
            for k in sorted(set(old_metrics) | set(new_metrics))
            if old_metrics.get(k) != new_metrics.get(k)
        ]
        for key in changed:
            differences.append(
                Difference("metric", key, f"{old_metrics.get(key)!r} -> {new_metrics.get(key)!r}")
            )
        if not changed:
            same.append(f"{len(new_metrics)} metrics")
    old_data, new_data = old.get("datasets") or {}, new.get("datasets") or {}
    for name in sorted(set(old_data) & set(new_data)):
        before = old_data[name].get("fingerprint_written") or {}
        after = new_data[name].get("fingerprint_written") or {}
        if not before or not after or before.get("kind") in ("memory", "unknown", None):
            continue
        if before.get("kind") == "bentoml_model":
            continue  # compared by its artifacts above: its metadata names the run
        if before.get("digest") == after.get("digest"):
            same.append(name)
        else:
            differences.append(Difference("output", name, "content differs from the run's"))
    return differences, same


def _digests(model: dict[str, Any]) -> str:
    return ", ".join(
        f"{k} {v[:12]}" for k, v in sorted((model.get("artifact_sha256") or {}).items())
    )
